#include "dag/dag_folder.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>

namespace orquestra::dag {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<std::string>;

std::string dag_text(std::string_view id, std::string_view description = "") {
    return "dag_id: " + std::string(id) + "\ndescription: \"" + std::string(description) +
           "\"\ntasks:\n  a:\n    http: {service: s}\n";
}

class DagFolderTest : public testing::Test {
  protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() /
               ("orquestra_dag_folder_" + std::to_string(rd()) + "_" + std::to_string(rd()));
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    // Writes a file and gives it a distinct mtime, so that edits within one clock tick of the
    // file system still look changed, as they would a second later.
    void write(const fs::path& rel, std::string_view text) {
        fs::path p = dir_ / rel;
        fs::create_directories(p.parent_path());
        {
            std::ofstream out(p, std::ios::binary | std::ios::trunc);
            out << text;
        }
        fs::last_write_time(p, fs::file_time_type::clock::now() + std::chrono::seconds(++tick_));
    }
    void touch(const fs::path& rel) {
        fs::last_write_time(dir_ / rel,
                            fs::file_time_type::clock::now() + std::chrono::seconds(++tick_));
    }

    fs::path dir_;
    int tick_ = 0;
    FakeClock clock_{1'700'000'000'000};
};

TEST_F(DagFolderTest, AddChangeRemove) {
    DagFolder folder(dir_, clock_);
    ScanResult empty = folder.scan();
    EXPECT_TRUE(empty.added.empty());
    EXPECT_EQ(empty.files_read, 0u);

    write("a.yaml", dag_text("alpha"));
    write("b.yml", dag_text("beta"));
    write("notes.txt", "dag_id: not_a_dag_file");
    ScanResult first = folder.scan();
    EXPECT_EQ(first.added, (Ids{"alpha", "beta"}));
    EXPECT_TRUE(first.changed.empty());
    EXPECT_TRUE(first.removed.empty());
    EXPECT_EQ(first.files_read, 2u);
    ASSERT_NE(folder.find("alpha"), nullptr);
    EXPECT_EQ(folder.find("alpha")->fileloc, (dir_ / "a.yaml").string());
    EXPECT_EQ(folder.dags().size(), 2u);
    EXPECT_EQ(folder.find("gamma"), nullptr);

    // Nothing on disk changed: nothing is read again.
    ScanResult idle = folder.scan();
    EXPECT_EQ(idle.files_read, 0u);
    EXPECT_TRUE(idle.added.empty() && idle.changed.empty() && idle.removed.empty());
    EXPECT_FALSE(idle.import_errors_changed);

    std::shared_ptr<const Dag> before = folder.find("alpha");
    write("a.yaml", dag_text("alpha", "new description"));
    ScanResult changed = folder.scan();
    EXPECT_EQ(changed.changed, Ids{"alpha"});
    EXPECT_EQ(changed.files_read, 1u);
    EXPECT_EQ(folder.find("alpha")->description, "new description");
    EXPECT_EQ(before->description, "");  // earlier snapshots stay valid

    fs::remove(dir_ / "b.yml");
    ScanResult removed = folder.scan();
    EXPECT_EQ(removed.removed, Ids{"beta"});
    EXPECT_EQ(folder.find("beta"), nullptr);
}

TEST_F(DagFolderTest, TouchWithoutEditIsNotAChange) {
    write("a.yaml", dag_text("alpha"));
    DagFolder folder(dir_, clock_);
    folder.scan();
    std::shared_ptr<const Dag> before = folder.find("alpha");
    touch("a.yaml");
    ScanResult r = folder.scan();
    EXPECT_EQ(r.files_read, 1u);
    EXPECT_TRUE(r.changed.empty());
    EXPECT_EQ(folder.find("alpha"), before);
}

TEST_F(DagFolderTest, RenamingTheDagIdRemovesTheOldOne) {
    write("a.yaml", dag_text("alpha"));
    DagFolder folder(dir_, clock_);
    folder.scan();
    write("a.yaml", dag_text("alpha2"));
    ScanResult r = folder.scan();
    EXPECT_EQ(r.added, Ids{"alpha2"});
    EXPECT_EQ(r.removed, Ids{"alpha"});
}

TEST_F(DagFolderTest, BadFileBecomesImportErrorAndOthersStay) {
    write("good.yaml", dag_text("good"));
    write("bad.yaml", "dag_id: bad\ntasks:\n  a:\n    upstream: [zz]\n    http: {service: s}\n");
    DagFolder folder(dir_, clock_);
    ScanResult r = folder.scan();
    EXPECT_EQ(r.added, Ids{"good"});
    EXPECT_TRUE(r.import_errors_changed);
    std::vector<ImportError> errors = folder.import_errors();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].filename, (dir_ / "bad.yaml").string());
    EXPECT_EQ(errors[0].line, 4);
    EXPECT_EQ(errors[0].message, "task 'a' has unknown upstream 'zz'");
    EXPECT_EQ(errors[0].timestamp, 1'700'000'000'000);

    // Unchanged: same error, same timestamp, no change reported.
    clock_.advance(5'000);
    ScanResult again = folder.scan();
    EXPECT_FALSE(again.import_errors_changed);
    EXPECT_EQ(folder.import_errors(), errors);

    // Fixed: the error goes and the DAG arrives.
    write("bad.yaml", dag_text("bad"));
    ScanResult fixed = folder.scan();
    EXPECT_EQ(fixed.added, Ids{"bad"});
    EXPECT_TRUE(fixed.import_errors_changed);
    EXPECT_TRUE(folder.import_errors().empty());

    // Broken again: the DAG goes and the error comes back, with the new time.
    write("bad.yaml", "dag_id: [oops");
    ScanResult broken = folder.scan();
    EXPECT_EQ(broken.removed, Ids{"bad"});
    ASSERT_EQ(folder.import_errors().size(), 1u);
    EXPECT_EQ(folder.import_errors()[0].timestamp, 1'700'000'005'000);
    EXPECT_NE(folder.import_errors()[0].message.find("YAML syntax error"), std::string::npos);
    EXPECT_NE(folder.find("good"), nullptr);
}

TEST_F(DagFolderTest, DuplicateDagIdIsAnImportErrorForTheSecondFile) {
    write("a.yaml", dag_text("same", "from a"));
    write("b.yaml", dag_text("same", "from b"));
    DagFolder folder(dir_, clock_);
    ScanResult r = folder.scan();
    EXPECT_EQ(r.added, Ids{"same"});
    EXPECT_EQ(folder.find("same")->description, "from a");
    std::vector<ImportError> errors = folder.import_errors();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].filename, (dir_ / "b.yaml").string());
    EXPECT_EQ(errors[0].line, 1);
    EXPECT_EQ(errors[0].message,
              "dag_id 'same' is already defined in " + (dir_ / "a.yaml").string());

    // A newer file that sorts first does not take the id from its current owner.
    write("0.yaml", dag_text("same", "from 0"));
    folder.scan();
    EXPECT_EQ(folder.find("same")->description, "from a");
    EXPECT_EQ(folder.import_errors().size(), 2u);

    // When the owner goes, the next file by path takes over.
    fs::remove(dir_ / "a.yaml");
    ScanResult handover = folder.scan();
    EXPECT_EQ(handover.changed, Ids{"same"});
    EXPECT_EQ(folder.find("same")->description, "from 0");
    ASSERT_EQ(folder.import_errors().size(), 1u);
    EXPECT_EQ(folder.import_errors()[0].filename, (dir_ / "b.yaml").string());
}

TEST_F(DagFolderTest, SubfoldersAreScannedHiddenEntriesSkipped) {
    write("team/x.yaml", dag_text("nested"));
    write(".hidden/y.yaml", dag_text("hidden_dir"));
    write(".z.yaml", dag_text("hidden_file"));
    DagFolder folder(dir_, clock_);
    EXPECT_EQ(folder.scan().added, Ids{"nested"});
}

TEST_F(DagFolderTest, UnreadableFolderChangesNothing) {
    write("a.yaml", dag_text("alpha"));
    DagFolder folder(dir_, clock_);
    folder.scan();
    fs::rename(dir_, dir_.string() + "_moved");
    ScanResult r = folder.scan();
    fs::rename(dir_.string() + "_moved", dir_);
    EXPECT_FALSE(r.folder_error.empty());
    EXPECT_TRUE(r.removed.empty());
    EXPECT_NE(folder.find("alpha"), nullptr);

    DagFolder missing(dir_ / "nope", clock_);
    EXPECT_NE(missing.scan().folder_error.find("cannot read the DAG folder"), std::string::npos);
    EXPECT_EQ(missing.directory(), dir_ / "nope");
}

TEST_F(DagFolderTest, TooLargeFileIsAnImportError) {
    write("big.yaml", "dag_id: big\ndescription: \"" + std::string(kMaxDagFileBytes, 'x') + "\"\n");
    DagFolder folder(dir_, clock_);
    folder.scan();
    ASSERT_EQ(folder.import_errors().size(), 1u);
    EXPECT_EQ(folder.import_errors()[0].line, 0);
    EXPECT_NE(folder.import_errors()[0].message.find("the limit is 1048576"), std::string::npos);
}

}  // namespace
}  // namespace orquestra::dag
