#include "test.h"
TEST(placeholder) { CHECK(1, "x"); }
