// The one signal-name table: the handler's names, selfhealctl's --signal and the status page
// agree on every signal, on any architecture's numbering.
#include <gtest/gtest.h>
#include <signal.h>

#include "crash/names.h"
#include "records/grouping.h"
#include "status/render.h"

using namespace selfheal;

TEST(SignalNames, EveryNamedSignalRoundTripsThroughNameAndNumber) {
  for (int signo : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS, SIGKILL, SIGTERM}) {
    const char* name = crash::signal_name_or_null(signo);
    ASSERT_NE(name, nullptr) << signo;
    EXPECT_EQ(crash::signal_number(name), signo) << name;
    EXPECT_STREQ(crash::signal_name(signo), name);
    EXPECT_EQ(status_signal_name(signo), name);
    EXPECT_EQ(records::normalize_signal(std::to_string(signo)), name);
  }
}

TEST(SignalNames, UnknownSignalsAreSaidSoEachInItsOwnWay) {
  EXPECT_EQ(crash::signal_name_or_null(63), nullptr);
  EXPECT_STREQ(crash::signal_name(63), "SIG?");
  EXPECT_EQ(status_signal_name(63), "SIG63");
  EXPECT_EQ(crash::signal_number("SIGNOPE"), 0);
  EXPECT_EQ(crash::signal_number("SIGSEG"), 0);  // a prefix is not a name
  EXPECT_EQ(crash::signal_number("SIGSEGVX"), 0);
  EXPECT_EQ(crash::signal_number(nullptr), 0);
  EXPECT_EQ(records::normalize_signal("1234567"), "");
}
