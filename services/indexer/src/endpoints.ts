import { handle, type EndpointHandler } from "@gently/bus";
import type { DataStore } from "@gently/datastore";
import { datastore, GentlyError } from "@gently/protocol";

/** The gently.datastore.* endpoints, each a thin call into the DataStore. */
export function datastoreHandlers(store: DataStore): EndpointHandler<any>[] {
  return [
    handle(datastore.get, ({ uid }) => {
      const item = store.get(uid);
      if (!item) throw new GentlyError("not_found", `no item with uid ${uid}`, "uid");
      return item;
    }),
    handle(datastore.list, (query) => ({ items: store.list(query) })),
    handle(datastore.lineage, ({ uid }) => store.lineage(uid)),
    handle(datastore.children, ({ uid }) => ({ items: store.children(uid) })),
    handle(datastore.sessions, () => ({ sessions: store.sessions() })),
    handle(datastore.register, (req) => {
      const { uid, path, ...facts } = req;
      return store.registerExternalFile(uid, path, facts);
    }),
  ];
}
