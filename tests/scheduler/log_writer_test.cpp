#include "scheduler/log_writer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace orquestra::scheduler {
namespace {

namespace fs = std::filesystem;

class LogWriterTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() / ("orquestra-logs-" + std::to_string(rd()));
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string read(const fs::path& file) {
        std::ifstream in(file, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }
    fs::path dir_;
};

// A value with a newline in it used to write a second, forged line into the try's log.
TEST_F(LogWriterTest, ControlCharactersAreEscapedSoNoLineCanBeForged) {
    LogWriter writer;
    fs::path file = dir_ / "d" / "r" / "t" / "1.log";
    writer.append(file, {"header: x\r\n[2024-01-01T00:00:00Z] outcome: success",
                         "colour \x1b[31mred\x1b[0m, bell \x07, nul " + std::string(1, '\0') +
                             ", del \x7f, tab\tkept, ação"});
    writer.drain();
    EXPECT_EQ(read(file),
              "header: x\\r\\n[2024-01-01T00:00:00Z] outcome: success\n"
              "colour \\x1b[31mred\\x1b[0m, bell \\x07, nul \\x00, del \\x7f, tab\tkept, ação\n");
}

TEST_F(LogWriterTest, LongLinesAreCut) {
    EXPECT_EQ(log_safe(std::string(kMaxLogLineBytes + 5, 'a')),
              std::string(kMaxLogLineBytes, 'a') + " ... (5 more bytes of this line not written)");
}

TEST_F(LogWriterTest, AFileStopsAtItsCapAndSaysSo) {
    LogWriter writer;
    fs::path file = dir_ / "big.log";
    const std::string line(1000, 'x');  // 1,001 bytes with its newline
    const std::size_t fit = kMaxLogFileBytes / 1001;
    writer.append(file, std::vector<std::string>(fit + 10, line));
    writer.drain();
    const std::string marker = "... log truncated: 10010 more bytes not written\n";
    EXPECT_EQ(fs::file_size(file), fit * 1001 + marker.size());
    std::string text = read(file);
    EXPECT_EQ(text.substr(text.size() - marker.size() - 2), "x\n" + marker);
    // Later lines are written while they fit, and each append that does not fit says so.
    writer.append(file, {"outcome: failed", line});
    writer.drain();
    text = read(file);
    const std::string tail =
        marker + "outcome: failed\n... log truncated: 1001 more bytes not written\n";
    EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
    EXPECT_LE(fs::file_size(file), kMaxLogFileBytes);
    writer.append(file, {line});
    writer.drain();
    text = read(file);
    EXPECT_EQ(text.substr(text.size() - 47), "... log truncated: 1001 more bytes not written\n");
}

}  // namespace
}  // namespace orquestra::scheduler
