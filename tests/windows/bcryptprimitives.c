/*
 * bcryptprimitives.dll for the Wine test prefix only. Wine 8 (Debian 12) lacks
 * this DLL, and Windows binaries built by Go (esbuild, which tsx runs) and by
 * Rust (@node-rs/xxhash) import ProcessPrng from it to seed their random
 * numbers; Windows 10 and later ship it. RtlGenRandom gives the same bytes'
 * quality.
 */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
  while (size > 0) {
    ULONG chunk = size > 0x10000000 ? 0x10000000 : (ULONG)size;
    if (!RtlGenRandom(data, chunk)) return FALSE;
    data += chunk;
    size -= chunk;
  }
  return TRUE;
}
