#define BOOST_TEST_MODULE howdy
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
