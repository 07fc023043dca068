// CHECK() for the fuzz targets: a broken invariant is a crash libFuzzer reports (and keeps the
// input of), with the condition and line on stderr.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(c)                                                                \
  do {                                                                               \
    if (!(c)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)
