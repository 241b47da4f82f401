/*
 * moves.c - F09 (issue 10): the guest must not leave a symlink in its
 * grant that leads out of it, for host processes to follow. run.sh makes
 * this tree and grants box/ as /sandbox:
 *   secret.txt                  outside: what a planted link would reach
 *   box/secret.txt              a decoy inside
 *   box/a/up -> ../secret.txt   the host's own links, which lead inside
 *   box/p/q/up -> ../../secret.txt    from where they are
 *   box/c/, box/plain/x.txt
 * Each attempt below would once have left a link to ../secret.txt at the
 * top of the box: made with `..` where that stays inside, then renamed or
 * hard-linked upwards, or its directory moved up, or made through a
 * `dot -> .` link that makes the lexical depth lie. A target that climbs
 * (absolute or with `..`) cannot be made; the host's climbing links move
 * only within their own directory, and so do directories holding one.
 * What stays allowed comes last. run.sh then checks on the host that
 * every symlink in box/ resolves inside it.
 */
#include "common.h"

static __wasi_fd_t sandbox;

static void report(const char *label, __wasi_errno_t e) {
    printf("%s: %s\n", label, outcome(e));
}

static __wasi_errno_t sym(const char *target, const char *path) {
    return __wasi_path_symlink(target, sandbox, path);
}

static __wasi_errno_t ren(const char *from, const char *to) {
    return __wasi_path_rename(sandbox, from, sandbox, to);
}

static __wasi_errno_t hardlink(const char *from, const char *to) {
    return __wasi_path_link(sandbox, 0, from, sandbox, to);
}

int main(void) {
    sandbox = (__wasi_fd_t)preopen_fd("/sandbox");
    REQUIRE((int)sandbox >= 0);

    printf("-- refused\n");
    report("symlink a/mine -> ../secret.txt", sym("../secret.txt", "a/mine"));
    report("rename a/mine to mine", ren("a/mine", "mine"));
    report("symlink dot -> .", sym(".", "dot"));
    report("symlink dot/mine2 -> ../secret.txt", sym("../secret.txt", "dot/mine2"));
    report("symlink p/q/x -> ../../../etc/hostname", sym("../../../etc/hostname", "p/q/x"));
    report("hard link the host's a/up as up2", hardlink("a/up", "up2"));
    report("rename the host's a/up to c/up", ren("a/up", "c/up"));
    report("rename the host's a/up to up", ren("a/up", "up"));
    report("rename directory p/q (holding up) to q", ren("p/q", "q"));
    report("rename directory p (holding q/up) to c/p", ren("p", "c/p"));

    printf("-- allowed\n");
    report("symlink ok -> plain/x.txt", sym("plain/x.txt", "ok"));
    report("rename ok to c/ok", ren("ok", "c/ok"));
    report("hard link c/ok as ok_hard", hardlink("c/ok", "ok_hard"));
    report("rename the host's a/up to a/up2 (same directory)", ren("a/up", "a/up2"));
    report("and back", ren("a/up2", "a/up"));
    report("rename directory p to p2 (same parent)", ren("p", "p2"));
    report("and back", ren("p2", "p"));
    report("rename directory plain (no climbing link) to c/plain", ren("plain", "c/plain"));
    return 0;
}
