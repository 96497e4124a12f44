/* bcryptprimitives.dll for Wine 8, which lacks it (Windows has had it since 8). Rust's standard library (1.78+)
   imports ProcessPrng from it, so every Rust extension module does: pydantic-core among the agent's
   dependencies. Built into the test prefix's system32 by tests/support/wine.py; never shipped. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size) {
        ULONG chunk = size > 0x40000000 ? 0x40000000 : (ULONG)size;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        size -= chunk;
    }
    return TRUE;
}
