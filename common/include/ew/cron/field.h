#pragma once
// One field of a cron expression ("*/15", "MON-FRI", "1,15,30-40/2") parsed
// into the set of values it allows. Pure; thread-compatible value types.
//
// Grammar, per comma-separated item:  * | ? | value | a-b, each optionally
// followed by /step (step >= 1); "a/step" means a-max/step (robfig/cron).
// Values are numbers, or names where the field has them (JAN-DEC, SUN-SAT,
// case-insensitive). "?" is accepted only where questionMarkAllowed (the day
// fields) and means "*".

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ew/result.h"

namespace ew::cron {

struct FieldSpec {
  int position;           // 1-based position in the expression, for errors
  std::string_view name;  // "minute", "day-of-week", ...
  int min;
  int max;                                  // inclusive; day-of-week uses 0-7 (7 folds to 0)
  std::span<const std::string_view> names;  // names[i] is value min+i; may be empty
  std::string_view namesHint;               // "month name (JAN-DEC)", for errors
  bool questionMarkAllowed = false;
};

struct FieldSet {
  uint64_t bits = 0;  // bit v set when value v is allowed
  bool star = false;  // the field began with * or ? (DOM/DOW OR semantics)
  bool has(int v) const { return (bits >> v) & 1U; }
};

// Errors read like: field 2 (hour): 24 is out of range 0-23.
Result<FieldSet> parseField(std::string_view text, const FieldSpec& spec);

}  // namespace ew::cron
