#include "actors/null_connection.hpp"

#include <chrono>

#include "messages/internal.hpp"
#include "runtime/commands.hpp"

namespace cafcache {

namespace {

resp_value status(std::string text) {
  resp_value out;
  out.type = resp_value::kind::status;
  out.str = std::move(text);
  return out;
}

resp_value integer(int64_t x) {
  resp_value out;
  out.type = resp_value::kind::integer;
  out.integer = x;
  return out;
}

resp_value bulk(std::string text) {
  resp_value out;
  out.type = resp_value::kind::string;
  out.str = std::move(text);
  return out;
}

resp_value error(std::string text) {
  resp_value out;
  out.type = resp_value::kind::error;
  out.str = std::move(text);
  return out;
}

null_store::time_point expiry(null_store::time_point now,
                              const std::string& millis) {
  return now + std::chrono::milliseconds(std::stoll(millis));
}

} // namespace

null_store::entry* null_store::find(const std::string& key, time_point now) {
  auto i = data_.find(key);
  if (i == data_.end())
    return nullptr;
  if (now >= i->second.expires) {
    data_.erase(i);
    return nullptr;
  }
  return &i->second;
}

resp_value null_store::on_command(const std::vector<std::string>& argv,
                                  time_point now) {
  if (argv.empty())
    return error("ERR empty command");
  std::lock_guard<std::mutex> guard{mtx_};
  const auto& cmd = argv[0];
  if (cmd == "GET" && argv.size() == 2) {
    if (auto x = find(argv[1], now))
      return bulk(x->value);
    return {};
  }
  if (cmd == "SET" && argv.size() >= 3) {
    auto expires = time_point::max();
    if (argv.size() == 5 && argv[3] == "PX")
      expires = expiry(now, argv[4]);
    tags_.erase(argv[1]);
    data_[argv[1]] = entry{argv[2], expires};
    return status("OK");
  }
  if (cmd == "PTTL" && argv.size() == 2) {
    auto x = find(argv[1], now);
    if (x == nullptr)
      return integer(-2);
    if (x->expires == time_point::max())
      return integer(-1);
    return integer(std::chrono::duration_cast<std::chrono::milliseconds>(
                     x->expires - now)
                     .count());
  }
  if (cmd == "UNLINK" || cmd == "DEL") {
    int64_t n = 0;
    for (size_t i = 1; i < argv.size(); ++i)
      n += static_cast<int64_t>(data_.erase(argv[i]) + tags_.erase(argv[i]));
    return integer(n);
  }
  if (cmd == "PING")
    return status("PONG");
  if (cmd == "SCAN") {
    // One page with every key: the replay then deletes the whole store.
    resp_value out;
    out.type = resp_value::kind::array;
    out.elements.push_back(bulk("0"));
    out.elements.emplace_back().type = resp_value::kind::array;
    for (auto& kv : data_)
      out.elements[1].elements.push_back(bulk(kv.first));
    for (auto& kv : tags_)
      out.elements[1].elements.push_back(bulk(kv.first));
    return out;
  }
  if (cmd == "EVAL" && argv.size() >= 4) {
    if (argv[1] == commands::set_tagged_script)
      return set_tagged(argv, now);
    if (argv[1] == commands::invalidate_tag_script && argv.size() == 5)
      return invalidate_tag(argv[3], argv[4]);
  }
  return error("ERR unknown command for the null backend");
}

resp_value null_store::set_tagged(const std::vector<std::string>& argv,
                                  time_point now) {
  // EVAL script numkeys key tag-set... value ttl
  auto nkeys = static_cast<size_t>(std::stoul(argv[2]));
  if (nkeys < 1 || argv.size() != 3 + nkeys + 2)
    return error("ERR wrong number of arguments for the tagged set");
  const auto& key = argv[3];
  for (size_t i = 1; i < nkeys; ++i)
    data_.erase(argv[3 + i]);
  data_[key] = entry{argv[3 + nkeys], expiry(now, argv[4 + nkeys])};
  for (size_t i = 1; i < nkeys; ++i)
    tags_[argv[3 + i]].insert(key);
  return status("OK");
}

resp_value null_store::invalidate_tag(const std::string& tag_key,
                                      const std::string& prefix) {
  int64_t deleted = 0;
  int64_t foreign = static_cast<int64_t>(data_.erase(tag_key));
  if (auto i = tags_.find(tag_key); i != tags_.end()) {
    for (auto& key : i->second) {
      auto n = prefix.size();
      if (key.size() > n && key.compare(0, n, prefix) == 0
          && key[n] != commands::reserved_byte)
        deleted += static_cast<int64_t>(data_.erase(key));
      else
        ++foreign;
    }
    tags_.erase(tag_key);
  }
  resp_value out;
  out.type = resp_value::kind::array;
  out.elements.push_back(integer(deleted));
  out.elements.push_back(integer(foreign));
  return out;
}

caf::behavior
null_connection(caf::stateful_actor<null_connection_state>* self,
                std::shared_ptr<null_store> store, cache_internal_actor cache,
                std::string key_prefix, caf::timespan mirror_refresh) {
  self->state.store = std::move(store);
  self->state.relay = job_relay{self, std::move(cache), mirror_refresh};
  self->state.key_prefix = std::move(key_prefix);
  return {
    // Reports every get at once: nothing is held back.
    [=](served_atom) { return true; },
    [=](get_atom, get_job& job) {
      auto rp = self->make_response_promise();
      self->state.get(rp, job, self->clock().now());
      self->state.relay.end_read(true);
      return rp;
    },
    [=](get_atom, get_batch& batch) {
      auto now = self->clock().now();
      job_relay::each_get(self, batch, [&](auto& rp, get_job& job) {
        self->state.get(rp, job, now);
      });
      self->state.relay.end_read(true);
    },
    [=](write_atom, write_job& job) {
      auto rp = self->make_response_promise<write_result>();
      auto now = self->clock().now();
      auto& st = self->state;
      auto key = st.key_prefix + job.key;
      auto reply = job.stored.empty()
                     ? st.store->on_command({"UNLINK", std::move(key)}, now)
                     : st.store->on_command({"SET", std::move(key), job.stored,
                                             "PX",
                                             commands::ttl_millis(job.ttl)},
                                            now);
      st.relay.complete(rp, job, reply, now);
      st.relay.end_read(true);
      return rp;
    },
    [=](cmd_atom, const std::vector<std::string>& argv) {
      return self->state.store->on_command(argv, self->clock().now());
    },
  };
}

} // namespace cafcache
