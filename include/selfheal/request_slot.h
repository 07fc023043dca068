// The request in flight, as the crash handler sees it.
//
// The httpd glue fills these plain structs from its hooks; the crash core reads them from the
// signal handler. Nothing here includes an httpd or APR header: the glue stores *addresses of
// request_rec / conn_rec fields*, so the handler reads the values current at the time of the
// crash (r->handler and r->filename change while the request runs) without the core knowing
// httpd's struct layouts. Every read in the handler goes through a fault-tolerant copy, so a
// stale or corrupt pointer yields "unreadable" rather than a second fault.
#pragma once

#include <atomic>
#include <cstdint>

namespace selfheal {

// Where the request is in httpd's processing. Stored as a byte; names in phase_name().
enum class Phase : uint8_t {
  kNone = 0,
  kConnection,    // pre_connection / process_connection, no request yet
  kReadRequest,   // post_read_request
  kTranslate,     // translate_name
  kMapToStorage,  // map_to_storage
  kHeaderParser,  // header_parser
  kAccess,        // access_checker(_ex)
  kAuthn,         // check_user_id
  kAuthz,         // auth_checker
  kTypeChecker,   // type_checker
  kFixups,        // fixups
  kInsertFilter,  // insert_filter
  kHandler,       // handler and the output filters it drives
  kLog,           // log_transaction
  kCount
};

// Mirror of the public layout of an APR table's element array (apr_array_header_t with
// apr_table_entry_t elements). The glue static_asserts that the layouts agree.
struct TableEntryView {
  const char* key;
  const char* val;
  uint32_t key_checksum;
};
struct ArrayHeaderView {
  void* pool;
  int elt_size;
  int nelts;
  int nalloc;
  char* elts;
};

// One request: addresses of the fields, filled at post_read_request, cleared by a cleanup on
// the request pool. All pointers may be null.
struct RequestRefs {
  const char* const* method = nullptr;    // &r->method
  const char* const* path = nullptr;      // &r->parsed_uri.path (no query)
  const char* const* query = nullptr;     // &r->args (written only when redaction is off)
  const char* const* protocol = nullptr;  // &r->protocol
  const char* const* host = nullptr;      // &r->hostname (Host as matched)
  const char* const* vhost = nullptr;     // &r->server->server_hostname at the time of the hook
  const unsigned short* vhost_port = nullptr;  // &r->server->port
  const char* const* handler = nullptr;        // &r->handler
  const char* const* filename = nullptr;       // &r->filename
  const char* const* client_ip = nullptr;      // &r->useragent_ip
  const ArrayHeaderView* const* headers_in =
      nullptr;            // (const ArrayHeaderView* const*)&r->headers_in
  int64_t start_us = 0;   // r->request_time (µs since the epoch)
  uint64_t key_hash = 0;  // quarantine key of this request (0: none)
};

// One connection, allocated in the connection pool at pre_connection. The thread working on
// the connection points its ThreadEntry at it (post_read_request / process_connection /
// resume_connection), so the record is right under the event MPM when the connection moves.
struct ConnSlot {
  std::atomic<const RequestRefs*> request{nullptr};  // null between requests
  std::atomic<uint8_t> phase{0};                     // a Phase
  const char* const* client_ip = nullptr;            // &c->client_ip
  const char* const* local_ip = nullptr;             // &c->local_ip
  const int* keepalives = nullptr;                   // &c->keepalives
  long conn_id = 0;                                  // c->id
  RequestRefs refs;                                  // storage for the current request's refs
};

const char* phase_name(Phase p) noexcept;  // async-signal-safe

}  // namespace selfheal
