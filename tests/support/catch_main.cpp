// Catch2's session, then exitProcess (ew/process_exit.h): a test that passed
// must not turn into a crash in a third-party library's static teardown.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "ew/process_exit.h"

int main(int argc, char* argv[]) { ew::exitProcess(Catch::Session().run(argc, argv)); }
