// FUZZ_CHECK(cond): a fuzz target's assertion, on in every build (assert() is not, under
// NDEBUG): prints the failed condition and aborts, which libFuzzer reports as a crash.
#ifndef QLASTER_TESTS_FUZZ_FUZZ_CHECK_H_
#define QLASTER_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

#endif  // QLASTER_TESTS_FUZZ_FUZZ_CHECK_H_
