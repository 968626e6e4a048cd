// mget / mset: one operation per key through the usual get and set paths.
// Commands issued in one turn of the cache actor leave in one write per
// connection, so a bulk request costs one round trip per connection.

#include "actors/cache.hpp"

#include <numeric>

#include "actors/bulk_answers.hpp"
#include "messages/errc.hpp"
#include "runtime/request_rules.hpp"

namespace cafcache {

caf::result<std::vector<get_result>>
cache_state::mget(std::vector<std::string>& keys,
                  const request_options& opts) {
  if (keys.empty())
    return std::vector<get_result>{};
  auto bulk = std::make_shared<bulk_answers<get_result>>();
  bulk->results.resize(keys.size());
  bulk->left = keys.size();
  bulk->rp = self_->make_response_promise<std::vector<get_result>>();
  std::vector<size_t> positions(keys.size());
  std::iota(positions.begin(), positions.end(), size_t{0});
  mget(keys, opts, bulk, positions);
  return bulk->rp;
}

void cache_state::mget(std::vector<std::string>& keys,
                       const request_options& opts,
                       const std::shared_ptr<bulk_answers<get_result>>& bulk,
                       const std::vector<size_t>& positions) {
  stats_.gets += keys.size();
  for (auto& key : keys)
    if (auto err = admit(key)) {
      bulk->fail(refuse(metric_op::get, std::move(err), opts.correlation_id));
      return;
    }
  for (size_t i = 0; i < keys.size(); ++i) {
    auto op = start(operation::kind::get, std::move(keys[i]), opts.deadline);
    op->correlation_id = opts.correlation_id;
    op->on_get = [bulk, at = positions[i]](caf::expected<get_result> x) {
      bulk->set(at, std::move(x));
    };
    dispatch(op);
  }
}

caf::result<std::vector<write_result>>
cache_state::mset(std::vector<key_value>& entries, const set_options& opts) {
  if (entries.empty()) {
    // The tags are checked all the same.
    if (auto err = check_tags(opts.tags))
      return refuse(metric_op::set, std::move(err), opts.correlation_id);
    return std::vector<write_result>{};
  }
  auto bulk = std::make_shared<bulk_answers<write_result>>();
  bulk->results.resize(entries.size());
  bulk->left = entries.size();
  bulk->rp = self_->make_response_promise<std::vector<write_result>>();
  std::vector<size_t> positions(entries.size());
  std::iota(positions.begin(), positions.end(), size_t{0});
  mset(entries, opts, bulk, positions);
  return bulk->rp;
}

void cache_state::mset(std::vector<key_value>& entries, const set_options& opts,
                       const std::shared_ptr<bulk_answers<write_result>>& bulk,
                       const std::vector<size_t>& positions) {
  stats_.sets += entries.size();
  caf::error err;
  for (auto& entry : entries) {
    if (!err)
      err = admit(entry.key);
    if (!err)
      err = check_value(entry.value, cfg_.max_value_bytes);
  }
  if (!err)
    err = check_tags(opts.tags);
  if (err) {
    bulk->fail(refuse(metric_op::set, std::move(err), opts.correlation_id));
    return;
  }
  auto ttl = opts.ttl > caf::timespan{0} ? opts.ttl : cfg_.default_ttl;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!writable()) {
      // As a lone set: answered at once, no operation left to its sweep.
      bulk->set(positions[i],
                degraded(metric_op::set, std::move(entries[i].key),
                         encode_tagged(encode_envelope(entries[i].value),
                                       opts.tags),
                         jittered(ttl), opts.correlation_id));
      continue;
    }
    auto op = start(operation::kind::set, std::move(entries[i].key),
                    opts.deadline);
    op->correlation_id = opts.correlation_id;
    op->on_write = [bulk, at = positions[i]](caf::expected<write_result> x) {
      bulk->set(at, std::move(x));
    };
    op->ttl = jittered(ttl);
    op->tags = opts.tags;
    op->stored = encode_tagged(encode_envelope(entries[i].value), op->tags);
    dispatch(op);
  }
}

} // namespace cafcache
