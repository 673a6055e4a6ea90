#pragma once
// Reads a DAG file (YAML, one DAG per file; format in src/dag/README.md) into a validated Dag.
//
// Every failure is an Error{kInvalidArgument, "<file>:<line>: <reason>"} with the 1-based line
// of the offending YAML node when it has one ("<file>: <reason>" otherwise): YAML syntax,
// missing or bad dag_id, unknown or duplicate keys, wrong types, bad durations, dates,
// schedules, templates or params schemas, unknown upstream tasks, cycles, and the size limits
// in dag.hpp. Nothing is thrown out of these functions. Thread-safe (no shared state).

#include <boost/system/result.hpp>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "dag/dag.hpp"

namespace orquestra::dag {

Result<Dag> load_dag_file(const std::filesystem::path& path);
Result<Dag> parse_dag(std::string_view yaml_text, std::string_view fileloc);

// A load failure in parts, for callers that keep file, line and reason apart (DagFolder).
struct LoadFailure {
    int line = 0;  // 1-based; 0 when unknown
    std::string reason;
};
// Makes boost::system::result<T, LoadFailure>::value() throw; never used by this module.
[[noreturn]] void throw_exception_from_error(const LoadFailure& failure,
                                             const boost::source_location& loc);
using LoadResult = boost::system::result<Dag, LoadFailure>;

LoadResult parse_dag_detailed(std::string_view yaml_text, std::string_view fileloc);
// Reads at most kMaxDagFileBytes; a larger file fails without being read whole.
LoadResult load_dag_file_detailed(const std::filesystem::path& path);
// Just the reading part of load_dag_file_detailed(), with the same size limit.
boost::system::result<std::string, LoadFailure> read_dag_text(const std::filesystem::path& path);

// "<file>:<line>: <reason>", or "<file>: <reason>" when the line is unknown.
Error to_error(const LoadFailure& failure, std::string_view fileloc);

}  // namespace orquestra::dag
