#include "admin/stats.h"

struct stats stats;
