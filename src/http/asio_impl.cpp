// Asio and Beast are compiled once, here (separate compilation keeps builds fast on 2 cores).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
