#pragma once
// DagFolder: the DAG files of one directory, kept loaded. scan() looks at every *.yaml/*.yml
// file below the directory (hidden files and folders skipped) and re-reads only those whose
// modification time or size changed, so calling it every second costs one directory walk and
// one stat per file. A file that fails to load becomes an ImportError and never stops the
// others; when two files declare the same dag_id, the one that had it first keeps it (the
// first by path among new files) and the other gets an import error. A DAG on a cycle of
// literal trigger_dag targets (trigger_graph.hpp) is not loaded either: its file gets an
// import error naming the cycle.
//
// Thread-safety: scan() may be called from one thread at a time (concurrent calls serialise);
// dags(), find() and import_errors() may be called from any thread at any time and return
// snapshots. No method throws.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "dag/dag.hpp"

namespace orquestra::dag {

struct ImportError {
    std::string filename;
    int line = 0;  // 1-based; 0 when the failure has no line
    std::string message;
    Millis timestamp = 0;  // when the error was first seen for this version of the file
    bool operator==(const ImportError&) const = default;
};

// What one scan changed. Ids are sorted.
struct ScanResult {
    std::vector<std::string> added;
    std::vector<std::string> changed;  // the DAG's file was re-read and its content differs
    std::vector<std::string> removed;
    bool import_errors_changed = false;
    std::size_t files_read = 0;  // 0 when nothing changed on disk
    std::string folder_error;    // set when the directory itself could not be read
};

class DagFolder {
  public:
    DagFolder(std::filesystem::path directory, const Clock& clock);

    ScanResult scan();

    // The loaded DAGs, sorted by dag_id.
    std::vector<std::shared_ptr<const Dag>> dags() const;
    std::shared_ptr<const Dag> find(std::string_view dag_id) const;
    // Sorted by filename.
    std::vector<ImportError> import_errors() const;
    const std::filesystem::path& directory() const { return directory_; }

  private:
    struct FileState {
        std::filesystem::file_time_type mtime;
        std::uintmax_t size = 0;
        std::size_t content_hash = 0;
        std::shared_ptr<const Dag> dag;         // when the file loaded
        std::optional<ImportError> load_error;  // when it did not
    };

    const std::filesystem::path directory_;
    const Clock& clock_;

    std::mutex scan_mu_;  // serialises scan(); guards the members below up to mu_
    std::map<std::filesystem::path, FileState> files_;
    std::map<std::string, std::filesystem::path, std::less<>> owners_;  // dag_id -> file
    std::map<std::filesystem::path, ImportError> duplicate_errors_;
    std::map<std::filesystem::path, ImportError> cycle_errors_;  // trigger_dag cycles

    mutable std::mutex mu_;  // guards the published snapshot
    std::map<std::string, std::shared_ptr<const Dag>, std::less<>> dags_;
    std::vector<ImportError> errors_;
};

}  // namespace orquestra::dag
