// Configuration model: tree storage, derivation of vhosts/listens, text parser.
#include "config/model.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace selfheal::cfg {
namespace {

inline char lower(char c) {
  return static_cast<char>(c + 32 * (static_cast<unsigned char>(c - 'A') < 26));
}
// Any 'A'..'Z' in s? Eight bytes at a time: with the high bits cleared first no byte
// carries into the next, so a byte's high bit ends up set exactly when it is >= 'A' and
// not > 'Z' (and was below 0x80 to begin with).
inline bool has_upper(std::string_view s) {
  constexpr uint64_t k7f = 0x7f7f7f7f7f7f7f7full, k80 = 0x8080808080808080ull;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    const uint64_t y = x & k7f;
    const uint64_t ge_a = y + 0x3f3f3f3f3f3f3f3full;  // high bit: byte >= 'A' (0x41)
    const uint64_t gt_z = y + 0x2525252525252525ull;  // high bit: byte > 'Z' (0x5a)
    if (ge_a & ~gt_z & ~x & k80) return true;
  }
  if (i < s.size() && s.size() >= 8) {  // the last 1..7 bytes: the final eight, overlapping
    uint64_t x;
    std::memcpy(&x, s.data() + s.size() - 8, 8);
    const uint64_t y = x & k7f;
    return ((y + 0x3f3f3f3f3f3f3f3full) & ~(y + 0x2525252525252525ull) & ~x & k80) != 0;
  }
  for (; i < s.size(); ++i)
    if (s[i] >= 'A' && s[i] <= 'Z') return true;
  return false;
}

// End of the unquoted word at s[i]: the first whitespace at or after i, or n. Eight
// bytes at a time: flags every byte below 0x21 (the first flag is exact on little and
// big endian alike as long as we only trust the lowest flag, which memcpy order gives on
// little endian; other byte orders take the byte loop).
inline size_t word_end(const char* s, size_t i, size_t n) {
  if constexpr (std::endian::native == std::endian::little) {
    while (i + 8 <= n) {
      uint64_t x;
      std::memcpy(&x, s + i, 8);
      const uint64_t t = (x - 0x2121212121212121ull) & ~x & 0x8080808080808080ull;
      if (!t) {
        i += 8;
        continue;
      }
      const size_t k = i + static_cast<size_t>(std::countr_zero(t) >> 3);
      if (is_space(s[k])) return k;
      i = k + 1;  // a control character that is not whitespace: part of the word
    }
    // The last 1..7 bytes: load the final eight (they overlap bytes already found not
    // to be whitespace, which raise no flag once shifted out), never past the end.
    if (i < n && n >= 8) {
      uint64_t x;
      std::memcpy(&x, s + n - 8, 8);
      const unsigned skip = static_cast<unsigned>(8 - (n - i)) * 8;  // bytes before i
      uint64_t t = ((x - 0x2121212121212121ull) & ~x & 0x8080808080808080ull) >> skip;
      while (t) {
        const size_t k = i + static_cast<size_t>(std::countr_zero(t) >> 3);
        if (is_space(s[k])) return k;
        t &= t - 1;  // a control character that is not whitespace: part of the word
      }
      return n;
    }
  }
  while (i < n && !is_space(s[i])) ++i;
  return i;
}

// a == b for two strings of the same length n, without a call for names up to 16 bytes
// (two overlapping eight-byte loads each; never past either end).
inline bool same_bytes(const char* a, const char* b, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t x, y, u, v;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    std::memcpy(&u, a + n - 8, 8);
    std::memcpy(&v, b + n - 8, 8);
    return ((x ^ y) | (u ^ v)) == 0;
  }
  if (n >= 4 && n < 8) {
    uint32_t x, y, u, v;
    std::memcpy(&x, a, 4);
    std::memcpy(&y, b, 4);
    std::memcpy(&u, a + n - 4, 4);
    std::memcpy(&v, b + n - 4, 4);
    return ((x ^ y) | (u ^ v)) == 0;
  }
  return n == 0 || std::memcmp(a, b, n) == 0;  // memcmp's pointers may not be null, even for 0
}

// The word splitter behind split_args() and Model::add(): calls
// emit(region, quote, escaped) for each word, where region is the word's text in raw
// (without quotes) and escaped says whether it contains backslash escapes to remove.
template <class Emit>
[[gnu::always_inline]] inline void tokenize(std::string_view raw, Emit&& emit) {
  size_t i = 0;
  const size_t n = raw.size();
  while (true) {
    while (i < n && is_space(raw[i])) ++i;
    if (i >= n) break;
    const char q = raw[i];
    if (q == '"' || q == '\'') {
      const size_t start = ++i;
      bool escaped = false;
      while (i < n && raw[i] != q) {
        if (raw[i] == '\\' && i + 1 < n && (raw[i + 1] == q || raw[i + 1] == '\\')) {
          escaped = true;
          i += 2;
        } else {
          ++i;
        }
      }
      emit(raw.substr(start, i - start), q, escaped, raw);
      if (i < n) ++i;  // closing quote
    } else {
      const size_t start = i;
      i = word_end(raw.data(), i, n);
      emit(raw.substr(start, i - start), '\0', false, raw);
    }
  }
}

// The text of an escaped quoted word (pairs exactly as tokenize() scanned them).
template <class Out>
void unescape(std::string_view region, char q, Out&& put) {
  for (size_t j = 0; j < region.size();) {
    // region is followed by the closing quote (or the end): the scan never paired
    // a backslash with a character outside the region, so j + 1 stays inside it.
    if (region[j] == '\\' && j + 1 < region.size() &&
        (region[j + 1] == q || region[j + 1] == '\\')) {
      put(region[j + 1]);
      j += 2;
    } else {
      put(region[j++]);
    }
  }
}

}  // namespace

// ---- Arena -----------------------------------------------------------------------

void* Arena::alloc_slow(size_t bytes, size_t align) {
  size_t size = size_t{64} << 10 << std::min<size_t>(chunks_.size(), 4);  // 64 KB .. 1 MB
  size = std::max(size, bytes + align);
  chunks_.emplace_back(new char[size]);
  cur_ = chunks_.back().get();
  end_ = cur_ + size;
  return alloc(bytes, align);
}

std::string_view Arena::copy(std::string_view s) {
  if (s.empty()) return {};
  char* p = static_cast<char*>(alloc(s.size(), 1));
  std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

// ---- helpers ---------------------------------------------------------------------

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::vector<std::string> split_args(std::string_view raw, std::vector<bool>* quoted) {
  std::vector<std::string> out;
  tokenize(raw, [&](std::string_view w, char q, bool escaped, std::string_view) {
    if (escaped) {
      std::string s;
      s.reserve(w.size());
      unescape(w, q, [&](char c) { s += c; });
      out.push_back(std::move(s));
    } else {
      out.emplace_back(w);
    }
    if (quoted) quoted->push_back(q != '\0');
  });
  return out;
}

// ---- tree ------------------------------------------------------------------------

int Model::intern_file(std::string_view path) {
  for (size_t i = files.size(); i-- > 0;)  // usually the last one
    if (files[i] == path) return static_cast<int>(i);
  files.emplace_back(path);
  return static_cast<int>(files.size() - 1);
}

std::string_view Model::lower_view(std::string_view s) {
  if (!has_upper(s)) return s;
  char* p = arena_.array<char>(s.size());
  for (size_t i = 0; i < s.size(); ++i) p[i] = lower(s[i]);
  return {p, s.size()};
}

// Lower-cases `name` into buf (when it fits) while hashing it.
inline uint32_t lower_hash(std::string_view name, char* buf, size_t cap) {
  uint32_t h = 2166136261u;
  const bool fits = name.size() <= cap;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = lower(name[i]);
    if (fits) buf[i] = c;
    h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  }
  return h;
}

int Model::lookup_name(std::string_view name, uint32_t h, const char* lowered) const {
  if (name_slots_.empty()) return -1;
  const size_t mask = name_slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const NameSlot& slot = name_slots_[i];
    if (!slot.id) return -1;
    if (slot.hash != h) continue;
    const std::string_view known = names_[slot.id - 1];
    if (known.size() == name.size() &&
        (lowered ? std::memcmp(known.data(), lowered, name.size()) == 0 : iequals(known, name)))
      return static_cast<int>(slot.id - 1);
  }
}

int Model::find_name(std::string_view name) const {
  char buf[64];
  const uint32_t h = lower_hash(name, buf, sizeof buf);
  return lookup_name(name, h, name.size() <= sizeof buf ? buf : nullptr);
}

int Model::name_id(std::string_view lname) const {
  return find_name(lname);
}

int Model::intern_name(std::string_view name) {
  char buf[64];
  const uint32_t h = lower_hash(name, buf, sizeof buf);
  if (const int id = lookup_name(name, h, name.size() <= sizeof buf ? buf : nullptr); id >= 0)
    return id;
  if ((names_.size() + 1) * 2 > name_slots_.size()) {  // keep the load under 1/2
    std::vector<NameSlot> slots(std::max<size_t>(64, name_slots_.size() * 2));
    const size_t mask = slots.size() - 1;
    for (const NameSlot& old : name_slots_) {
      if (!old.id) continue;
      size_t i = old.hash & mask;
      while (slots[i].id) i = (i + 1) & mask;
      slots[i] = old;
    }
    name_slots_ = std::move(slots);
  }
  // `name` is stable (pool or arena memory): keep it when it is already lower case.
  names_.push_back(lower_view(name));
  by_name_.emplace_back();
  name_count_.push_back(0);
  const size_t mask = name_slots_.size() - 1;
  size_t i = h & mask;
  while (name_slots_[i].id) i = (i + 1) & mask;
  name_slots_[i] = {h, static_cast<uint32_t>(names_.size())};
  return static_cast<int>(names_.size() - 1);
}

int Model::add(std::string_view name, std::string_view args, int file, int line, int parent) {
  return add_impl(name, args, file, line, parent, true);
}

int Model::add_borrowed(std::string_view name, std::string_view args, int file, int line,
                        int parent) {
  return add_impl(name, args, file, line, parent, false);
}

int Model::add_impl(std::string_view name, std::string_view args, int file, int line, int parent,
                    bool copy) {
  const bool section = !name.empty() && name.front() == '<';
  if (copy) name = arena_.copy(name);
  const std::string_view key = section ? name.substr(1) : name;
  // Configurations spell a directive the same way every time: a direct-mapped cache of
  // exact spellings skips the case-insensitive hash for nearly every directive.
  const size_t ks = key.size();
  SpellSlot& sp = spell_cache_[(ks * 31 + (ks ? static_cast<unsigned char>(key.front()) * 7 +
                                                    static_cast<unsigned char>(key.back())
                                              : 0)) &
                               (spell_cache_.size() - 1)];
  int id = sp.id;
  if (id < 0 || sp.spelling.size() != ks || !same_bytes(sp.spelling.data(), key.data(), ks)) {
    id = intern_name(key);
    sp = {key, id};
  }
  ++name_count_[static_cast<size_t>(id)];

  // Arguments: trailing whitespace and a section's '>' off, then split into words.
  const char* a = args.data();
  size_t n = args.size();
  while (n && is_space(a[n - 1])) --n;
  if (section && n && a[n - 1] == '>') --n;
  std::string_view raw(a, n);
  if (copy) raw = arena_.copy(raw);
  // The words (as tokenize() splits them): most directives have one to three, so they
  // go to a local buffer first and the scratch vector only past eight.
  struct Word {  // trivial: the buffer is not zeroed on every call
    const char* p;
    size_t n;
  };
  Word local[8];
  size_t count = 0;
  bool hash_word = false;
  tokenize(
      raw, [&](std::string_view w, char q, bool escaped,
               std::string_view) __attribute__((always_inline)) {
        if (__builtin_expect(escaped, 0)) w = unescape_into_arena(w, q);
        hash_word |= !q && w.front() == '#';  // tokenize() never emits an empty unquoted word
        if (__builtin_expect(count >= 8, 0)) {
          if (count == 8) {
            scratch_.clear();
            for (const Word& x : local) scratch_.emplace_back(x.p, x.n);
          }
          scratch_.push_back(w);
        } else {
          local[count] = {w.data(), w.size()};
        }
        ++count;
      });
  std::string_view* words = arena_.array<std::string_view>(count);
  if (count > 8) {
    for (size_t k = 0; k < count; ++k) words[k] = scratch_[k];
  } else {
    for (size_t k = 0; k < count; ++k) words[k] = {local[k].p, local[k].n};
  }

  Directive& d = dirs.emplace_back();
  d.name = name;
  d.lname = names_[static_cast<size_t>(id)];
  d.raw_args = raw;
  d.args = {words, count};
  d.name_id = id;
  d.file = file;
  d.line = line;
  d.parent = parent;
  d.section = section;
  d.hash_word = hash_word;
  const int idx = static_cast<int>(dirs.size() - 1);
  if (parent < 0) roots.push_back(idx);
  // Pre-order (document order) so far? `open_` is the chain of the last directive's
  // ancestors and itself; a parent off that chain means the tree was built out of order.
  while (!open_.empty() && open_.back() != parent) open_.pop_back();
  if (parent >= 0 && open_.empty()) preorder_ = false;
  open_.push_back(idx);
  return idx;
}

std::string_view Model::unescape_into_arena(std::string_view w, char q) {
  char* p = arena_.array<char>(w.size());
  size_t k = 0;
  unescape(w, q, [&](char c) { p[k++] = c; });
  return {p, k};
}

namespace {

// std::atoi() on a view: leading whitespace, a sign, then digits up to the first other
// character (no copy to NUL-terminate). Out-of-range values, undefined for atoi, clamp.
int atoi_view(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  long long v = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
    v = std::min<long long>(v * 10 + (s[i] - '0'), 1LL << 32);
  v = neg ? -v : v;
  return static_cast<int>(std::clamp<long long>(v, INT32_MIN, INT32_MAX));
}

// Splits "host:port" / "[v6]:port"; lower_of(ctx, host) gives the stored host.
Address parse_address(std::string_view s, std::string_view (*lower_of)(void*, std::string_view),
                      void* ctx) {
  Address a;
  std::string_view host = s;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close != std::string_view::npos) {
      host = s.substr(1, close - 1);
      if (close + 1 < s.size() && s[close + 1] == ':') port = s.substr(close + 2);
    }
  } else {
    const size_t colon = s.rfind(':');
    if (colon != std::string_view::npos && s.find(':') == colon) {
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
    }
  }
  a.host = lower_of(ctx, host);
  if (!port.empty() && port != "*") a.port = atoi_view(port);
  return a;
}

}  // namespace

void Model::finalize() {
  const size_t n = dirs.size();
  vhosts.clear();
  listens.clear();
  for (size_t id = 0; id < by_name_.size(); ++id) {
    by_name_[id].clear();
    by_name_[id].reserve(static_cast<size_t>(name_count_[id]));
  }

  // Children: a counting sort of the directives by parent (document order kept).
  std::vector<int> start(n + 1, 0);
  for (size_t i = 0; i < n; ++i)
    if (const int p = dirs[i].parent; p >= 0) ++start[static_cast<size_t>(p) + 1];
  for (size_t i = 0; i < n; ++i) start[i + 1] += start[i];
  child_ids_.assign(static_cast<size_t>(start[n]), 0);
  {
    std::vector<int> fill(start.begin(), start.end() - 1);
    for (size_t i = 0; i < n; ++i)
      if (const int p = dirs[i].parent; p >= 0)
        child_ids_[static_cast<size_t>(fill[static_cast<size_t>(p)]++)] = static_cast<int>(i);
  }
  for (size_t i = 0; i < n; ++i)
    dirs[i].children = std::span<const int>(child_ids_.data() + start[i],
                                            static_cast<size_t>(start[i + 1] - start[i]));

  // Vhost membership flows from parents to children, in document order. Directives
  // added in document order (the glue's walk, the text parser) are already in it: one
  // pass over the array; otherwise a pre-order walk of the tree.
  auto lower_of = [](void* self, std::string_view s) {
    return static_cast<Model*>(self)->lower_view(s);
  };
  const int vhost_id = find_name("virtualhost");
  // Main-server values: in document order, so the last one wins.
  main_last_.assign(names_.size(), -1);
  // Consecutive vhosts usually repeat the same address text ("*:443"): parse it once.
  std::string_view last_text;
  Address last_addr;
  auto address = [&](std::string_view text) {
    if (text.size() != last_text.size() ||
        !same_bytes(text.data(), last_text.data(), text.size())) {
      last_addr = parse_address(text, lower_of, this);
      last_text = text;
    }
    return last_addr;
  };
  auto visit = [&](int i) __attribute__((always_inline)) {
    Directive& d = dirs[static_cast<size_t>(i)];
    by_name_[static_cast<size_t>(d.name_id)].push_back(i);
    if (d.parent < 0 && !d.section) main_last_[static_cast<size_t>(d.name_id)] = i;
    d.vhost = d.parent >= 0 ? dirs[static_cast<size_t>(d.parent)].vhost : -1;
    if (d.name_id == vhost_id && d.section) {
      VHost v;
      v.dir = i;
      Address* addrs = arena_.array<Address>(d.args.size());
      for (size_t k = 0; k < d.args.size(); ++k) addrs[k] = address(d.args[k]);
      v.addrs = {addrs, d.args.size()};
      vhosts.push_back(v);
      d.vhost = static_cast<int>(vhosts.size() - 1);
    }
  };
  if (preorder_) {
    for (size_t i = 0; i < n; ++i) visit(static_cast<int>(i));
  } else {
    std::vector<int> stack(roots.rbegin(), roots.rend());
    while (!stack.empty()) {
      const int i = stack.back();
      stack.pop_back();
      visit(i);
      const auto& ch = dirs[static_cast<size_t>(i)].children;
      for (auto it = ch.rbegin(); it != ch.rend(); ++it) stack.push_back(*it);
    }
  }
  const int server_name_id = find_name("servername"), alias_id = find_name("serveralias");
  for (VHost& v : vhosts) {
    size_t n_alias = 0;
    for (int c : dirs[static_cast<size_t>(v.dir)].children)
      if (dirs[static_cast<size_t>(c)].name_id == alias_id)
        n_alias += dirs[static_cast<size_t>(c)].args.size();
    auto* aliases = arena_.array<std::pair<std::string_view, int>>(n_alias);
    size_t k = 0;
    for (int c : dirs[static_cast<size_t>(v.dir)].children) {
      const Directive& d = dirs[static_cast<size_t>(c)];
      if (d.name_id == server_name_id && !d.section && !d.args.empty()) {
        std::string_view name = d.args[0];
        if (const size_t p = name.find("://"); p != std::string_view::npos)
          name = name.substr(p + 3);
        if (!name.empty() && name.front() != '[') {
          if (const size_t colon = name.find(':'); colon != std::string_view::npos)
            name = name.substr(0, colon);
        }
        v.server_name = lower_view(name);
        v.server_name_dir = c;
      } else if (d.name_id == alias_id && !d.section) {
        for (std::string_view a : d.args) aliases[k++] = {lower_view(a), c};
      }
    }
    v.aliases = {aliases, n_alias};
  }
  for (int i : all("listen")) {
    const Directive& d = dirs[static_cast<size_t>(i)];
    Listen l;
    l.dir = i;
    if (!d.args.empty()) {
      const std::string_view s = d.args[0];
      const bool all_digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return c >= '0' && c <= '9';
      });
      if (all_digits) {
        l.port = atoi_view(s);
      } else {
        const Address a = parse_address(s, lower_of, this);
        l.host = a.host;
        l.port = a.port;
      }
      if (d.args.size() > 1) l.protocol = lower_view(d.args[1]);
    }
    listens.push_back(l);
  }
  mpm_ = mpm;
  if (mpm_.empty()) {
    for (const char* name : {"event", "worker", "prefork"})
      if (std::find(modules.begin(), modules.end(), std::string(name) + ".c") != modules.end())
        mpm_ = name;
  }
}

const std::vector<int>& Model::all(std::string_view lname) const {
  static const std::vector<int>* const kEmpty = new std::vector<int>;
  const int id = find_name(lname);
  return id < 0 ? *kEmpty : by_name_[static_cast<size_t>(id)];
}

bool Model::has_module(std::string_view short_name) const {
  const std::string a = "mod_" + std::string(short_name) + ".c";
  const std::string b = std::string(short_name) + "_module";
  const std::string c = std::string(short_name) + ".c";
  for (const std::string& m : modules)
    if (m == a || m == b || m == c) return true;
  return false;
}

bool Model::threaded_mpm() const {
  return mpm_ == "event" || mpm_ == "worker";
}

const std::string& Model::file_of(int d) const {
  static const std::string* const kNone = new std::string;
  const int f = dirs[static_cast<size_t>(d)].file;
  return f >= 0 && static_cast<size_t>(f) < files.size() ? files[static_cast<size_t>(f)] : *kNone;
}

bool Model::server_level(int d) const {
  const int p = dirs[static_cast<size_t>(d)].parent;
  return p < 0 || dirs[static_cast<size_t>(p)].lname == "virtualhost";
}

int Model::server_value(std::string_view lname, int v) const {
  if (main_last_.empty()) return -1;  // not finalized
  const int id = find_name(lname);
  if (id < 0) return -1;
  if (v >= 0 && static_cast<size_t>(v) < vhosts.size()) {
    const auto& ch = dirs[static_cast<size_t>(vhosts[static_cast<size_t>(v)].dir)].children;
    for (auto it = ch.rbegin(); it != ch.rend(); ++it) {
      const Directive& d = dirs[static_cast<size_t>(*it)];
      if (d.name_id == id && !d.section) return *it;
    }
  }
  return static_cast<size_t>(id) < main_last_.size() ? main_last_[static_cast<size_t>(id)] : -1;
}

std::vector<int> Model::own_server_level(std::string_view lname, int v) const {
  std::vector<int> out;
  const int id = find_name(lname);
  if (id < 0) return out;
  if (v < 0) {
    for (int i : by_name_[static_cast<size_t>(id)])
      if (dirs[static_cast<size_t>(i)].parent < 0) out.push_back(i);
  } else if (static_cast<size_t>(v) < vhosts.size()) {
    for (int c : dirs[static_cast<size_t>(vhosts[static_cast<size_t>(v)].dir)].children)
      if (dirs[static_cast<size_t>(c)].name_id == id) out.push_back(c);
  }
  return out;
}

std::string Model::resolve(std::string_view path) const {
  if (path.empty() || path.front() == '/') return std::string(path);
  std::string root = server_root;
  if (!root.empty() && root.back() != '/') root += '/';
  root += path;
  return root;
}

const std::string& Model::resolve_into(std::string_view path, std::string& out) const {
  if (path.empty() || path.front() == '/') {
    out.assign(path);
    return out;
  }
  out.assign(server_root);
  if (!out.empty() && out.back() != '/') out += '/';
  out += path;
  return out;
}

std::string Model::effective_pid_file() const {
  if (!pid_file.empty()) return pid_file;
  const int d = main_value("pidfile");
  if (d < 0 || dirs[static_cast<size_t>(d)].args.empty()) return {};
  const std::string_view p = dirs[static_cast<size_t>(d)].args[0];
  if (!p.empty() && p.front() == '/') return std::string(p);
  std::string rt = runtime_dir;
  if (rt.empty()) {
    const int r = main_value("defaultruntimedir");
    rt = (r >= 0 && !dirs[static_cast<size_t>(r)].args.empty())
             ? resolve(dirs[static_cast<size_t>(r)].args[0])
             : server_root;
  }
  if (!rt.empty() && rt.back() != '/') rt += '/';
  rt += p;
  return rt;
}

std::string Model::effective_coredump_dir() const {
  if (!coredump_dir.empty()) return coredump_dir;
  const int d = main_value("coredumpdirectory");
  if (d < 0 || dirs[static_cast<size_t>(d)].args.empty()) return {};
  return resolve(dirs[static_cast<size_t>(d)].args[0]);
}

std::string Model::vhost_label(int v) const {
  if (v < 0 || static_cast<size_t>(v) >= vhosts.size()) return {};
  const VHost& vh = vhosts[static_cast<size_t>(v)];
  std::string addrs;
  for (std::string_view a : dirs[static_cast<size_t>(vh.dir)].args) {
    if (!addrs.empty()) addrs += ' ';
    addrs += a;
  }
  if (vh.server_name.empty()) return addrs;
  std::string label(vh.server_name);
  label += " (";
  label += addrs;
  label += ')';
  return label;
}

}  // namespace selfheal::cfg
