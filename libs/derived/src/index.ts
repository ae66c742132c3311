export { writeDerivedItem, writeDerivedSidecar, readSidecar, type DerivedItemInput } from "./derived";
