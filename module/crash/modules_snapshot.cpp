// Loaded-object snapshot (see modules_snapshot.h).
#include "crash/modules_snapshot.h"

#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <atomic>

#include "crash/asfmt.h"

namespace selfheal::crash {
namespace {

ModuleInfo g_modules[kMaxModules];
std::atomic<size_t> g_count{0};

size_t align4(size_t v) noexcept {
  return (v + 3) & ~static_cast<size_t>(3);
}

// Finds NT_GNU_BUILD_ID in one PT_NOTE segment (memory of a loaded object: always mapped).
bool read_build_id(const char* p, size_t size, ModuleInfo* m) noexcept {
  size_t off = 0;
  while (off + sizeof(ElfW(Nhdr)) <= size) {
    const auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p + off);
    size_t name_off = off + sizeof(ElfW(Nhdr));
    size_t desc_off = name_off + align4(nh->n_namesz);
    size_t next = desc_off + align4(nh->n_descsz);
    if (next > size || next <= off) return false;
    if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && p[name_off] == 'G' &&
        p[name_off + 1] == 'N' && p[name_off + 2] == 'U') {
      size_t n = nh->n_descsz < kMaxBuildId ? nh->n_descsz : kMaxBuildId;
      for (size_t i = 0; i < n; ++i) m->build_id[i] = static_cast<uint8_t>(p[desc_off + i]);
      m->build_id_len = static_cast<uint8_t>(n);
      return true;
    }
    off = next;
  }
  return false;
}

int on_object(struct dl_phdr_info* info, size_t, void* data) noexcept {
  size_t* n = static_cast<size_t*>(data);
  if (*n >= kMaxModules) return 1;
  ModuleInfo* m = &g_modules[*n];
  m->base = info->dlpi_addr;
  m->lo = ~static_cast<uintptr_t>(0);
  m->hi = 0;
  m->build_id_len = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD) {
      if (start < m->lo) m->lo = start;
      if (start + ph.p_memsz > m->hi) m->hi = start + ph.p_memsz;
    } else if (ph.p_type == PT_NOTE && m->build_id_len == 0) {
      read_build_id(reinterpret_cast<const char*>(start), ph.p_memsz, m);
    }
  }
  if (m->hi == 0) return 0;  // nothing mapped: skip
  const char* name = info->dlpi_name;
  if (name && *name) {
    cstr_copy(m->path, sizeof m->path, name);
  } else {
    // The main program (first entry, empty name). The vdso always has a name.
    ssize_t k = readlink("/proc/self/exe", m->path, sizeof m->path - 1);
    m->path[k > 0 ? k : 0] = '\0';
    if (k <= 0) cstr_copy(m->path, sizeof m->path, "[main]");
  }
  ++*n;
  return 0;
}

}  // namespace

size_t modules_snapshot() noexcept {
  size_t n = 0;
  g_count.store(0, std::memory_order_release);
  dl_iterate_phdr(on_object, &n);
  g_count.store(n, std::memory_order_release);
  return n;
}

size_t modules_count() noexcept {
  return g_count.load(std::memory_order_acquire);
}

const ModuleInfo* module_at(size_t i) noexcept {
  return i < modules_count() ? &g_modules[i] : nullptr;
}

const ModuleInfo* module_for_pc(uintptr_t pc) noexcept {
  size_t n = modules_count();
  for (size_t i = 0; i < n; ++i)
    if (pc >= g_modules[i].lo && pc < g_modules[i].hi) return &g_modules[i];
  return nullptr;
}

}  // namespace selfheal::crash
