// Names of signals and si_code values for the crash record. Async-signal-safe (static tables).
#pragma once

#include <signal.h>

namespace selfheal::crash {

// Names come from one table (names.cpp) of the signals a record or counter can carry.
const char* signal_name(int signo) noexcept;          // "SIGSEGV"; "SIG?" when unknown
const char* signal_name_or_null(int signo) noexcept;  // "SIGSEGV"; null when unknown
int signal_number(const char* name) noexcept;         // "SIGSEGV" -> 11; 0 when unknown
// "SEGV_MAPERR", "SI_USER", ...; null when the code is not known for this signal.
const char* signal_code_name(int signo, int code) noexcept;
// Whether the kernel raised this signal for the instruction at the pc (si_code > 0 for a
// fault signal), so returning from the handler executes it again.
bool signal_is_fault(int signo, const siginfo_t* info) noexcept;
// Whether si_pid names a sending process (kill, tgkill, sigqueue: si_code <= 0).
bool signal_has_sender(const siginfo_t* info) noexcept;

}  // namespace selfheal::crash
