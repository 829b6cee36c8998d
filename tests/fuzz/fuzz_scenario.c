/* libFuzzer target: arbitrary bytes as a coordsim scenario text, and as the
 * value of a --set, through sim_scenario_parse (in process).
 *
 * What it found: Debian bookworm's libfyaml 0.7.12 loops forever on some
 * invalid UTF-8, leaks when fy_node_build_from_string fails, and crashes on
 * some texts with tabs and '?' keys (tests/sim/bad/parser-crash.yaml). The
 * first two are avoided in scenario.c; the crashes cannot be, so
 * sim_scenario_load parses in a child process. This harness therefore still
 * stops at libfyaml's crashes: run it by hand, and look at any finding whose
 * stack is in sim/ rather than in libfyaml:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isim \
 *       tests/fuzz/fuzz_scenario.c sim/scenario.c -lfyaml -lm -o fuzz_scenario
 *   ./fuzz_scenario -timeout=3 -max_len=2048 CORPUS_DIR   (seed it with scenarios/)
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sim_scenario sc;
    char err[1024];
    (void)sim_scenario_parse("fuzz.yaml", (const char *)data, size, NULL, 0, &sc, err, sizeof err);
    /* The same bytes as a --set value on a small scenario. */
    char set[512];
    size_t n = size < 400 ? size : 400;
    memcpy(set, "faults.0=", 9);
    memcpy(set + 9, data, n);
    set[9 + n] = '\0';
    const char *sets[] = {set};
    static const char base[] = "duration: 30\nfaults:\n  - {at: 5, kind: crash, nodes: 1}\n";
    (void)sim_scenario_parse("fuzz.yaml", base, sizeof base - 1, sets, 1, &sc, err, sizeof err);
    return 0;
}
