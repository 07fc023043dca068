// Names of signals and si_code values for the crash record. Async-signal-safe (static tables).
#pragma once

#include <signal.h>

namespace selfheal::crash {

const char* signal_name(int signo) noexcept;  // "SIGSEGV"; "SIG?" when unknown
// "SEGV_MAPERR", "SI_USER", ...; null when the code is not known for this signal.
const char* signal_code_name(int signo, int code) noexcept;
// Whether the kernel raised this signal for the instruction at the pc (si_code > 0 for a
// fault signal), so returning from the handler executes it again.
bool signal_is_fault(int signo, const siginfo_t* info) noexcept;
// Whether si_pid names a sending process (kill, tgkill, sigqueue: si_code <= 0).
bool signal_has_sender(const siginfo_t* info) noexcept;

}  // namespace selfheal::crash
