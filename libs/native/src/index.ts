export { cString, loadNativeLibrary, nativeDirectory, nativeLibraryFile, nativeLibraryPath } from "./native";
