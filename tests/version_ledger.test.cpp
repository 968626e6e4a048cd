#include <doctest/doctest.h>

#include "tests/harness/version_ledger.hpp"

using cafcache::version_ledger;

TEST_CASE("version_ledger: values carry their version, floors only rise") {
  version_ledger ledger{4};
  auto v1 = ledger.next_version();
  auto v2 = ledger.next_version();
  CHECK(v2 > v1);
  auto value = version_ledger::value_of(v2, 100);
  CHECK(value.size() == 100);
  CHECK(version_ledger::version_of(value) == v2);
  CHECK_FALSE(version_ledger::version_of("garbage").has_value());
  CHECK_FALSE(version_ledger::version_of("v|").has_value());
  CHECK_FALSE(version_ledger::version_of("v12x|").has_value());
  CHECK(ledger.floor(1) == 0);
  ledger.acknowledge(1, v2);
  ledger.acknowledge(1, v1); // an older answer never lowers the floor
  CHECK(ledger.floor(1) == v2);
  CHECK(ledger.floor(0) == 0);
  // A read that started at floor v2 may return v2, anything newer or a miss,
  // never something older.
  CHECK(version_ledger::read_ok(v2, v2));
  CHECK(version_ledger::read_ok(v2 + 5, v2));
  CHECK(version_ledger::read_ok(std::nullopt, v2));
  CHECK_FALSE(version_ledger::read_ok(v1, v2));
}
