// Signal, si_code and request-phase names (see names.h and selfheal/request_slot.h).
#include "crash/names.h"

#include <cstring>

#include "selfheal/request_slot.h"

namespace selfheal {

const char* phase_name(Phase p) noexcept {
  switch (p) {
    case Phase::kNone:
      return "none";
    case Phase::kConnection:
      return "connection";
    case Phase::kReadRequest:
      return "read_request";
    case Phase::kTranslate:
      return "translate";
    case Phase::kMapToStorage:
      return "map_to_storage";
    case Phase::kHeaderParser:
      return "header_parser";
    case Phase::kAccess:
      return "access";
    case Phase::kAuthn:
      return "authn";
    case Phase::kAuthz:
      return "authz";
    case Phase::kTypeChecker:
      return "type_checker";
    case Phase::kFixups:
      return "fixups";
    case Phase::kInsertFilter:
      return "insert_filter";
    case Phase::kHandler:
      return "handler";
    case Phase::kLog:
      return "log";
    case Phase::kCount:
      break;
  }
  return "unknown";
}

namespace crash {

namespace {

// The one signal-name table: the handler, the record reader, selfhealctl's --signal and the
// status page all name signals from it. Numbers come from <signal.h>, so the table is right
// on every architecture the module builds for.
struct SignalName {
  int number;
  const char* name;
};
constexpr SignalName kSignalNames[] = {
    {SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},
    {SIGABRT, "SIGABRT"}, {SIGTRAP, "SIGTRAP"}, {SIGSYS, "SIGSYS"},   {SIGTERM, "SIGTERM"},
    {SIGKILL, "SIGKILL"}, {SIGQUIT, "SIGQUIT"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
};

}  // namespace

const char* signal_name_or_null(int signo) noexcept {
  for (const auto& s : kSignalNames)
    if (s.number == signo) return s.name;
  return nullptr;
}

const char* signal_name(int signo) noexcept {
  const char* n = signal_name_or_null(signo);
  return n ? n : "SIG?";
}

int signal_number(const char* name) noexcept {
  if (!name) return 0;
  for (const auto& s : kSignalNames)
    if (std::strcmp(s.name, name) == 0) return s.number;
  return 0;
}

namespace {

const char* generic_code(int code) noexcept {
  switch (code) {
    case SI_USER:
      return "SI_USER";
    case SI_KERNEL:
      return "SI_KERNEL";
    case SI_QUEUE:
      return "SI_QUEUE";
    case SI_TIMER:
      return "SI_TIMER";
    case SI_MESGQ:
      return "SI_MESGQ";
    case SI_ASYNCIO:
      return "SI_ASYNCIO";
    case SI_SIGIO:
      return "SI_SIGIO";
    case SI_TKILL:
      return "SI_TKILL";
    default:
      return nullptr;
  }
}

}  // namespace

const char* signal_code_name(int signo, int code) noexcept {
  if (code <= 0 || code == SI_KERNEL) return generic_code(code);
  switch (signo) {
    case SIGSEGV:
      switch (code) {
        case SEGV_MAPERR:
          return "SEGV_MAPERR";
        case SEGV_ACCERR:
          return "SEGV_ACCERR";
        case 3:
          return "SEGV_BNDERR";
        case 4:
          return "SEGV_PKUERR";
        case 5:
          return "SEGV_ACCADI";
        case 6:
          return "SEGV_ADIDERR";
        case 7:
          return "SEGV_ADIPERR";
        case 8:
          return "SEGV_MTEAERR";
        case 9:
          return "SEGV_MTESERR";
        case 10:
          return "SEGV_CPERR";
      }
      break;
    case SIGBUS:
      switch (code) {
        case BUS_ADRALN:
          return "BUS_ADRALN";
        case BUS_ADRERR:
          return "BUS_ADRERR";
        case BUS_OBJERR:
          return "BUS_OBJERR";
        case 4:
          return "BUS_MCEERR_AR";
        case 5:
          return "BUS_MCEERR_AO";
      }
      break;
    case SIGFPE:
      switch (code) {
        case FPE_INTDIV:
          return "FPE_INTDIV";
        case FPE_INTOVF:
          return "FPE_INTOVF";
        case FPE_FLTDIV:
          return "FPE_FLTDIV";
        case FPE_FLTOVF:
          return "FPE_FLTOVF";
        case FPE_FLTUND:
          return "FPE_FLTUND";
        case FPE_FLTRES:
          return "FPE_FLTRES";
        case FPE_FLTINV:
          return "FPE_FLTINV";
        case FPE_FLTSUB:
          return "FPE_FLTSUB";
        case 14:
          return "FPE_FLTUNK";
        case 15:
          return "FPE_CONDTRAP";
      }
      break;
    case SIGILL:
      switch (code) {
        case ILL_ILLOPC:
          return "ILL_ILLOPC";
        case ILL_ILLOPN:
          return "ILL_ILLOPN";
        case ILL_ILLADR:
          return "ILL_ILLADR";
        case ILL_ILLTRP:
          return "ILL_ILLTRP";
        case ILL_PRVOPC:
          return "ILL_PRVOPC";
        case ILL_PRVREG:
          return "ILL_PRVREG";
        case ILL_COPROC:
          return "ILL_COPROC";
        case ILL_BADSTK:
          return "ILL_BADSTK";
        case 9:
          return "ILL_BADIADDR";
      }
      break;
    case SIGTRAP:
      switch (code) {
        case 1:
          return "TRAP_BRKPT";
        case 2:
          return "TRAP_TRACE";
        case 3:
          return "TRAP_BRANCH";
        case 4:
          return "TRAP_HWBKPT";
        case 5:
          return "TRAP_UNK";
      }
      break;
    case SIGSYS:
      if (code == 1) return "SYS_SECCOMP";
      break;
  }
  return nullptr;
}

bool signal_is_fault(int signo, const siginfo_t* info) noexcept {
  if (!info || info->si_code <= 0) return false;
  return signo == SIGSEGV || signo == SIGBUS || signo == SIGFPE || signo == SIGILL;
}

bool signal_has_sender(const siginfo_t* info) noexcept {
  return info && info->si_code <= 0;
}

}  // namespace crash
}  // namespace selfheal
