#include "actors/null_connection.hpp"

#include "messages/atoms.hpp"

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

} // namespace

resp_value
null_connection_state::on_command(const std::vector<std::string>& argv) {
  resp_value out;
  if (argv.empty())
    return out;
  const auto& cmd = argv[0];
  if (cmd == "GET" && argv.size() == 2) {
    if (auto i = data_.find(argv[1]); i != data_.end()) {
      out.type = resp_value::kind::string;
      out.str = i->second;
    }
    return out;
  }
  if (cmd == "SET" && argv.size() >= 3) {
    data_[argv[1]] = argv[2];
    return status("OK");
  }
  if (cmd == "UNLINK" || cmd == "DEL") {
    int64_t n = 0;
    for (size_t i = 1; i < argv.size(); ++i)
      n += static_cast<int64_t>(data_.erase(argv[i]));
    return integer(n);
  }
  if (cmd == "PING")
    return status("PONG");
  if (cmd == "SCAN") {
    // One page with every key: the replay then deletes the whole map.
    out.type = resp_value::kind::array;
    out.elements.resize(2);
    out.elements[0].type = resp_value::kind::string;
    out.elements[0].str = "0";
    out.elements[1].type = resp_value::kind::array;
    for (auto& kv : data_) {
      resp_value key;
      key.type = resp_value::kind::string;
      key.str = kv.first;
      out.elements[1].elements.push_back(std::move(key));
    }
    return out;
  }
  out.type = resp_value::kind::error;
  out.str = "ERR unknown command for the null backend";
  return out;
}

caf::behavior
null_connection(caf::stateful_actor<null_connection_state>* self) {
  return {
    [=](cmd_atom, const std::vector<std::string>& argv) {
      return self->state.on_command(argv);
    },
  };
}

} // namespace cafcache
