/*
 * wat.c - test modules written in the text format, assembled with wabt's
 * wat2wasm (installed by scripts/setup.sh), for tests that would be
 * unreadable as hand-written bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"
#include "wasm/wasm.h"

/* Assembles `wat` with wat2wasm into a loaded module, or NULL. */
wasm_module *unit_load_wat(const char *wat) {
    char dir[] = "/tmp/wasp-wat-XXXXXX";
    if (!mkdtemp(dir)) return NULL;
    char src[64], out[64], cmd[192];
    snprintf(src, sizeof src, "%s/m.wat", dir);
    snprintf(out, sizeof out, "%s/m.wasm", dir);
    FILE *f = fopen(src, "w");
    if (!f) return NULL;
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s -o %s", src, out);
    wasm_module *m = NULL;
    if (system(cmd) == 0 && (f = fopen(out, "rb"))) {
        uint8_t buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        wasm_error err;
        m = wasm_module_load(buf, n, &err);
        if (!m) unit_fail(__FILE__, __LINE__, "load: %s", err.msg);
    } else {
        unit_fail(__FILE__, __LINE__,
                  "wat2wasm could not assemble the test module (is wabt installed?)");
    }
    unlink(src);
    unlink(out);
    rmdir(dir);
    return m;
}
