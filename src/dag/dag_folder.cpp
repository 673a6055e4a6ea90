#include "dag/dag_folder.hpp"

#include <fmt/format.h>

#include <functional>
#include <set>
#include <utility>

#include "dag/loader.hpp"
#include "dag/trigger_graph.hpp"

namespace orquestra::dag {

namespace fs = std::filesystem;

namespace {

struct Seen {
    fs::file_time_type mtime;
    std::uintmax_t size = 0;
};

bool is_dag_file(const fs::path& p) {
    fs::path ext = p.extension();
    return ext == ".yaml" || ext == ".yml";
}

// Lists the DAG files below `dir`. Returns false (with `error` set) if the walk failed.
bool list_files(const fs::path& dir, std::map<fs::path, Seen>& out, std::string& error) {
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const fs::directory_entry& entry = *it;
        std::string name = entry.path().filename().string();
        std::error_code fec;
        if (!name.empty() && name.front() == '.') {
            if (entry.is_directory(fec)) it.disable_recursion_pending();
            continue;
        }
        if (!is_dag_file(entry.path()) || !entry.is_regular_file(fec)) continue;
        Seen seen;
        seen.mtime = entry.last_write_time(fec);
        if (fec) continue;  // vanished meanwhile
        seen.size = entry.file_size(fec);
        if (fec) continue;
        out.emplace(entry.path(), seen);
    }
    if (ec) {
        error = fmt::format("cannot read the DAG folder {}: {}", dir.string(), ec.message());
        return false;
    }
    return true;
}

}  // namespace

DagFolder::DagFolder(fs::path directory, const Clock& clock)
    : directory_(std::move(directory)), clock_(clock) {}

ScanResult DagFolder::scan() {
    std::lock_guard scan_lock(scan_mu_);
    ScanResult result;
    std::map<fs::path, Seen> present;
    if (!list_files(directory_, present, result.folder_error)) {
        // Keep everything as it was: a passing failure (unmount, permissions) must not unload
        // every DAG. The caller reports folder_error.
        return result;
    }
    Millis now = clock_.now_ms();

    // Re-read the files that are new or whose mtime or size changed.
    for (const auto& [path, seen] : present) {
        auto old = files_.find(path);
        if (old != files_.end() && old->second.mtime == seen.mtime &&
            old->second.size == seen.size) {
            continue;
        }
        ++result.files_read;
        FileState state;
        state.mtime = seen.mtime;
        state.size = seen.size;
        auto text = read_dag_text(path);
        if (!text) {
            state.load_error =
                ImportError{path.string(), text.error().line, text.error().reason, now};
            files_[path] = std::move(state);
            continue;
        }
        state.content_hash = std::hash<std::string>{}(*text);
        if (old != files_.end() && old->second.content_hash == state.content_hash &&
            (old->second.dag || old->second.load_error)) {
            // Touched but not changed: keep what was loaded, and the error's first timestamp.
            state.dag = old->second.dag;
            state.load_error = old->second.load_error;
            files_[path] = std::move(state);
            continue;
        }
        LoadResult loaded = parse_dag_detailed(*text, path.string());
        if (loaded) {
            state.dag = std::make_shared<const Dag>(std::move(*loaded));
        } else {
            state.load_error =
                ImportError{path.string(), loaded.error().line, loaded.error().reason, now};
        }
        files_[path] = std::move(state);
    }
    for (auto it = files_.begin(); it != files_.end();) {
        it = present.contains(it->first) ? std::next(it) : files_.erase(it);
    }

    // Who owns each dag_id: the previous owner while it still declares it, then the first
    // file by path.
    std::map<std::string, fs::path, std::less<>> owners;
    for (const auto& [id, path] : owners_) {
        auto f = files_.find(path);
        if (f != files_.end() && f->second.dag && f->second.dag->dag_id == id)
            owners.emplace(id, path);
    }
    std::map<fs::path, ImportError> duplicates;
    for (const auto& [path, state] : files_) {
        if (!state.dag) continue;
        auto [owner, inserted] = owners.emplace(state.dag->dag_id, path);
        if (inserted || owner->second == path) continue;
        ImportError error{path.string(), state.dag->dag_id_line,
                          fmt::format("dag_id '{}' is already defined in {}", state.dag->dag_id,
                                      owner->second.string()),
                          now};
        if (auto old = duplicate_errors_.find(path); old != duplicate_errors_.end() &&
                                                     old->second.message == error.message &&
                                                     old->second.line == error.line) {
            error.timestamp = old->second.timestamp;
        }
        duplicates.emplace(path, std::move(error));
    }
    owners_ = std::move(owners);
    duplicate_errors_ = std::move(duplicates);

    std::map<std::string, std::shared_ptr<const Dag>, std::less<>> dags;
    for (const auto& [id, path] : owners_) dags.emplace(id, files_.at(path).dag);
    std::map<fs::path, ImportError> cycle_errors;
    for (auto& [id, cycle] : find_trigger_cycles(dags)) {
        const fs::path& path = owners_.at(id);
        ImportError error{path.string(), cycle.line, std::move(cycle.message), now};
        if (auto old = cycle_errors_.find(path);
            old != cycle_errors_.end() && old->second.message == error.message) {
            error.timestamp = old->second.timestamp;
        }
        cycle_errors.emplace(path, std::move(error));
        dags.erase(id);
    }
    cycle_errors_ = std::move(cycle_errors);
    std::vector<ImportError> errors;
    for (const auto& [path, state] : files_) {
        if (state.load_error) errors.push_back(*state.load_error);
        if (auto d = duplicate_errors_.find(path); d != duplicate_errors_.end()) {
            errors.push_back(d->second);
        }
        if (auto c = cycle_errors_.find(path); c != cycle_errors_.end()) {
            errors.push_back(c->second);
        }
    }

    std::lock_guard lock(mu_);
    for (const auto& [id, dag] : dags) {
        auto old = dags_.find(id);
        if (old == dags_.end())
            result.added.push_back(id);
        else if (old->second != dag)
            result.changed.push_back(id);
    }
    for (const auto& [id, dag] : dags_) {
        if (!dags.contains(id)) result.removed.push_back(id);
    }
    result.import_errors_changed = errors != errors_;
    dags_ = std::move(dags);
    errors_ = std::move(errors);
    return result;
}

std::vector<std::shared_ptr<const Dag>> DagFolder::dags() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<const Dag>> out;
    out.reserve(dags_.size());
    for (const auto& [id, dag] : dags_) out.push_back(dag);
    return out;
}

std::shared_ptr<const Dag> DagFolder::find(std::string_view dag_id) const {
    std::lock_guard lock(mu_);
    auto it = dags_.find(dag_id);
    return it == dags_.end() ? nullptr : it->second;
}

std::vector<ImportError> DagFolder::import_errors() const {
    std::lock_guard lock(mu_);
    return errors_;
}

}  // namespace orquestra::dag
