#pragma once
// Cron's time points are wall-clock time (schedules are in UTC civil time).
// The time itself comes from the one TimeSource (ew/time_source.h): the
// scheduler reads wallNow() of the source it is given.

#include "ew/time_source.h"

namespace ew::cron {

using TimePoint = WallTime;

}  // namespace ew::cron
