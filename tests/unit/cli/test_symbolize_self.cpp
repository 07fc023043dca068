// Symbolization against the test binary itself: known noinline functions, their module +
// offset + build-id computed at run time with dl_iterate_phdr, exactly as the crash handler
// records them, then resolved offline with libdw to function and file:line.
#include <gtest/gtest.h>

#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "symbolize.h"

using selfheal::records::Frame;
using selfhealctl::Symbolized;
using selfhealctl::Symbolizer;
using selfhealctl::SymbolizerOptions;

extern "C" {
__attribute__((noinline)) void* selfheal_symbolize_callee() {
  void* ra = __builtin_return_address(0);
  asm volatile("" ::: "memory");
  return ra;
}

constexpr int kCallLine = __LINE__ + 3;  // the line of the call below
__attribute__((noinline)) void* selfheal_symbolize_caller() {
  asm volatile("" ::: "memory");
  void* r = selfheal_symbolize_callee();
  asm volatile("" ::: "memory");
  return r;
}

constexpr int kInlineCallLine = __LINE__ + 3;
static inline __attribute__((always_inline)) void* selfheal_symbolize_inlined() {
  asm volatile("" ::: "memory");
  void* r = selfheal_symbolize_callee();
  asm volatile("" ::: "memory");
  return r;
}
constexpr int kOuterCallLine = __LINE__ + 3;
__attribute__((noinline)) void* selfheal_symbolize_outer() {
  asm volatile("" ::: "memory");
  void* r = selfheal_symbolize_inlined();
  asm volatile("" ::: "memory");
  return r;
}
}

namespace {

struct Where {
  std::string path, build_id;
  uintptr_t base = 0;
  bool found = false;
};

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// What the crash core does: find the object containing pc, its load bias and GNU build-id.
Where locate(const void* pc) {
  Where w;
  struct Ctx {
    uintptr_t pc;
    Where* w;
  } ctx{reinterpret_cast<uintptr_t>(pc), &w};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        auto* c = static_cast<Ctx*>(data);
        bool inside = false;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto& ph = info->dlpi_phdr[i];
          uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && c->pc >= lo && c->pc < lo + ph.p_memsz) inside = true;
        }
        if (!inside) return 0;
        c->w->found = true;
        c->w->base = info->dlpi_addr;
        c->w->path = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : self_exe();
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
          const char* end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const char* name = p + sizeof(ElfW(Nhdr));
            const unsigned char* desc =
                reinterpret_cast<const unsigned char*>(name + ((nh->n_namesz + 3) & ~3u));
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                std::memcmp(name, "GNU", 4) == 0) {
              static const char kHex[] = "0123456789abcdef";
              for (unsigned k = 0; k < nh->n_descsz; ++k) {
                c->w->build_id += kHex[desc[k] >> 4];
                c->w->build_id += kHex[desc[k] & 15];
              }
            }
            p = reinterpret_cast<const char*>(desc) + ((nh->n_descsz + 3) & ~3u);
          }
        }
        return 1;
      },
      &ctx);
  return w;
}

Frame frame_for(const void* pc) {
  Where w = locate(pc);
  EXPECT_TRUE(w.found);
  Frame f;
  f.pc = reinterpret_cast<uintptr_t>(pc);
  f.module = w.path;
  f.offset = f.pc - w.base;
  f.build_id = w.build_id;
  return f;
}

SymbolizerOptions no_dpkg() {
  SymbolizerOptions o;
  o.package_lookup = [](const std::string& p) -> std::pair<bool, std::string> {
    return {false, "dpkg does not know " + p};
  };
  return o;
}

std::string base(const std::string& p) {
  return std::filesystem::path(p).filename().string();
}

TEST(SymbolizeSelf, FunctionEntryResolvesToFunctionAndFile) {
  Frame f = frame_for(reinterpret_cast<const void*>(&selfheal_symbolize_caller));
  ASSERT_FALSE(f.build_id.empty()) << "the test binary has no GNU build-id";
  Symbolizer s(no_dpkg());
  const Symbolized& r = s.symbolize(f, /*return_address=*/false);
  ASSERT_TRUE(r.has_function) << r.problem;
  ASSERT_FALSE(r.chain.empty());
  EXPECT_EQ(r.chain.back().function, "selfheal_symbolize_caller");
  ASSERT_TRUE(r.has_lines) << r.problem;
  EXPECT_EQ(base(r.chain.front().file), "test_symbolize_self.cpp");
  EXPECT_GE(r.chain.front().line, kCallLine - 2);
  EXPECT_LE(r.chain.front().line, kCallLine + 3);
  EXPECT_EQ(r.object, f.module.value());
}

TEST(SymbolizeSelf, ReturnAddressIsLookedUpAtPcMinusOne) {
  void* ra = selfheal_symbolize_caller();
  Frame f = frame_for(ra);
  Symbolizer s(no_dpkg());
  const Symbolized& r = s.symbolize(f, /*return_address=*/true);
  ASSERT_TRUE(r.has_lines) << r.problem;
  EXPECT_EQ(r.chain.back().function, "selfheal_symbolize_caller");
  EXPECT_EQ(r.chain.front().line, kCallLine);
  EXPECT_EQ(base(r.chain.front().file), "test_symbolize_self.cpp");
  // Cached: the same (build-id, offset) is not looked up twice.
  size_t n = s.cache_size();
  (void)s.symbolize(f, true);
  EXPECT_EQ(s.cache_size(), n);
  EXPECT_EQ(s.objects_opened(), 1u);
}

TEST(SymbolizeSelf, InlinedFramesAreListed) {
  void* ra = selfheal_symbolize_outer();
  Frame f = frame_for(ra);
  Symbolizer s(no_dpkg());
  const Symbolized& r = s.symbolize(f, true);
  ASSERT_TRUE(r.has_lines) << r.problem;
  ASSERT_EQ(r.chain.size(), 2u) << "expected the inlined helper and its caller";
  EXPECT_EQ(r.chain[0].function, "selfheal_symbolize_inlined");
  EXPECT_TRUE(r.chain[0].inlined);
  EXPECT_EQ(r.chain[0].line, kInlineCallLine);
  EXPECT_EQ(r.chain[1].function, "selfheal_symbolize_outer");
  EXPECT_FALSE(r.chain[1].inlined);
  EXPECT_EQ(r.chain[1].line, kOuterCallLine);
}

TEST(SymbolizeSelf, FoundByBuildIdWhenThePathIsGone) {
  void* ra = selfheal_symbolize_caller();
  Frame f = frame_for(ra);
  // A debug root holding the binary under its build-id, the way -dbgsym packages install.
  auto root = std::filesystem::temp_directory_path() / ("selfheal-dbg-" + std::to_string(getpid()));
  auto dir = root / ".build-id" / f.build_id.substr(0, 2);
  std::filesystem::create_directories(dir);
  auto debug = dir / (f.build_id.substr(2) + ".debug");
  std::filesystem::copy_file(f.module.value(), debug,
                             std::filesystem::copy_options::overwrite_existing);
  f.module = "/nonexistent/moved-away/" + base(f.module.value());
  SymbolizerOptions o = no_dpkg();
  o.debug_root = root.string();
  Symbolizer s(o);
  const Symbolized& r = s.symbolize(f, true);
  EXPECT_EQ(r.object, debug.string());
  EXPECT_TRUE(r.has_lines) << r.problem;
  EXPECT_EQ(r.chain.back().function, "selfheal_symbolize_caller");
  EXPECT_EQ(r.chain.front().line, kCallLine);
  std::filesystem::remove_all(root);
}

TEST(SymbolizeSelf, SaysPlainlyWhatIsMissing) {
  Frame f = frame_for(reinterpret_cast<const void*>(&selfheal_symbolize_caller));
  Symbolizer s(no_dpkg());

  Frame other_build = f;
  other_build.build_id = std::string(40, '0');
  const Symbolized& a = s.symbolize(other_build, false);
  EXPECT_FALSE(a.has_function);
  EXPECT_NE(a.problem.find("different build"), std::string::npos) << a.problem;
  EXPECT_NE(a.problem.find("/usr/lib/debug/.build-id/00/"), std::string::npos) << a.problem;
  EXPECT_NE(a.package_hint.find("dpkg does not know"), std::string::npos) << a.package_hint;

  Frame gone;
  gone.module = "/opt/gone/libgone.so";
  gone.build_id = "abcdef";
  const Symbolized& b = s.symbolize(gone, true);
  EXPECT_NE(b.problem.find("not on this machine"), std::string::npos) << b.problem;

  Frame nowhere;  // a jump through a null function pointer
  const Symbolized& c = s.symbolize(nowhere, false);
  EXPECT_NE(c.problem.find("no loaded object"), std::string::npos) << c.problem;
}

TEST(SymbolizeSelf, DpkgKnowsLibcOrSaysItDoesNot) {
  // Real dpkg: either a package name or an honest sentence, never an empty answer.
  auto [found, text] = selfhealctl::dpkg_package_of("/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_FALSE(text.empty());
  if (found) {
    EXPECT_EQ(text.find(' '), std::string::npos) << text;
  }
  auto [found2, text2] = selfhealctl::dpkg_package_of("/nonexistent/selfheal/libnothing.so");
  EXPECT_FALSE(found2);
  EXPECT_FALSE(text2.empty());
}

}  // namespace
