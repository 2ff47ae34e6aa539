#include "ew/process_exit.h"

#include <cstdio>
#include <cstdlib>

// Defined by LeakSanitizer (ASan builds); null otherwise.
extern "C" int __lsan_do_recoverable_leak_check() __attribute__((weak));

namespace ew {

void exitProcess(int rc) {
  std::fflush(nullptr);
  if (&__lsan_do_recoverable_leak_check != nullptr && __lsan_do_recoverable_leak_check() != 0 && rc == 0) rc = 23;
  std::_Exit(rc);
}

}  // namespace ew
