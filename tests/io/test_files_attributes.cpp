#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "error_message.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"

using namespace qvae;
namespace fs = std::filesystem;

namespace {

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "qvae_io_" + name; }

/// Writes a small file with a (4, 3) float64 dataset "x" and returns its path.
std::string write_small_file(const std::string& name) {
  const std::string path = temp_path(name);
  io::OutputFile out = io::OutputFile::create(path, par::Communicator());
  const std::vector<double> x{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  io::write_rows(out, "x", x.data(), 4, 3);
  const std::vector<std::int32_t> labels{1, 2, 3, 4};
  io::write_rows(out, "labels", labels.data(), 4, 0);
  out.commit();
  return path;
}

template <class F>
std::string input_error(F&& f) {
  return qvae::testing::error_message<core::InputError>(std::forward<F>(f));
}

}  // namespace

TEST(OutputFile, AppearsUnderItsNameOnlyAfterCommit) {
  const std::string path = temp_path("atomic.h5");
  fs::remove(path);
  {
    io::OutputFile out = io::OutputFile::create(path, par::Communicator());
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::exists(out.temp_path()));
    EXPECT_NE(out.temp_path().find(".tmp-"), std::string::npos);
    out.commit();
    EXPECT_FALSE(fs::exists(out.temp_path()));
  }
  EXPECT_TRUE(fs::exists(path));
  fs::remove(path);
}

TEST(OutputFile, AFailureBeforeCommitLeavesTheOldFileAndNoTemporary) {
  const std::string path = write_small_file("keep.h5");
  const auto size_before = fs::file_size(path);
  std::string temp;
  try {
    io::OutputFile out = io::OutputFile::create(path, par::Communicator());
    temp = out.temp_path();
    throw std::runtime_error("simulated failure while writing");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_EQ(fs::file_size(path), size_before);
  EXPECT_EQ(io::read_all<double>(io::File::open_serial(path), "x", 3).back(), 11.0);
  fs::remove(path);
}

TEST(OutputFile, AMissingOutputDirectoryIsAUsageError) {
  EXPECT_THROW(io::OutputFile::create("/nonexistent-dir/qvae/out.h5", par::Communicator()), core::UsageError);
}

TEST(OutputFile, RefusesToOverwriteAnInput) {
  const std::string path = write_small_file("input.h5");
  EXPECT_THROW(io::refuse_overwriting_inputs(path, {path}), core::UsageError);
  EXPECT_NO_THROW(io::refuse_overwriting_inputs(temp_path("other.h5"), {path}));
  fs::remove(path);
}

TEST(Attributes, RoundTripStringsNumbersAndArraysOnRootAndDatasets) {
  const std::string path = temp_path("attrs.h5");
  {
    io::OutputFile out = io::OutputFile::create(path, par::Communicator());
    const std::vector<float> x(6, 1.0f);
    io::write_rows(out, "x", x.data(), 2, 3);
    io::set_attribute(out, "/", "note", "multi\nline ünïcode");
    io::set_attribute(out, "/", "beta", 0.125);
    io::set_attribute(out, "/", "count", std::int64_t{-5});
    io::set_attribute(out, "/", "big", std::uint64_t{18446744073709551615ull});
    io::set_attribute(out, "x", "edges", std::vector<double>{0.0, 4.65, 9.3});
    io::set_attribute(out, "x", "ids", std::vector<std::int64_t>{3, 1, 2});
    io::set_attribute(out, "/", "beta", 0.25);  // replacing is allowed
    io::write_provenance(out, {"qvae test --x=1", 77, "[run]\nseed = 77\n"});
    io::set_format(out, "qvae-test", 2);
    out.commit();
  }
  const io::File in = io::File::open_serial(path);
  EXPECT_EQ(io::get_string_attribute(in, "/", "note"), "multi\nline ünïcode");
  EXPECT_DOUBLE_EQ(io::get_double_attribute(in, "/", "beta"), 0.25);
  EXPECT_EQ(io::get_int_attribute(in, "/", "count"), -5);
  EXPECT_EQ(io::get_uint_attribute(in, "/", "big"), 18446744073709551615ull);
  EXPECT_EQ(io::get_double_array_attribute(in, "x", "edges"), (std::vector<double>{0.0, 4.65, 9.3}));
  EXPECT_EQ(io::get_int_array_attribute(in, "x", "ids"), (std::vector<std::int64_t>{3, 1, 2}));
  EXPECT_EQ(io::get_string_attribute(in, "/", "created_by"), "qvae test --x=1");
  EXPECT_EQ(io::get_uint_attribute(in, "/", "seed"), 77u);
  EXPECT_FALSE(io::get_string_attribute(in, "/", "qvae_version").empty());
  EXPECT_EQ(io::require_format(in, "qvae-test", 2), 2);
  EXPECT_THROW(io::require_format(in, "qvae-test", 1), core::InputError);
  EXPECT_THROW(io::require_format(in, "qvae-rbm", 1), core::InputError);
  EXPECT_THROW(io::get_double_attribute(in, "/", "note"), core::InputError);
  EXPECT_THROW(io::get_string_attribute(in, "/", "missing"), core::InputError);
  EXPECT_THROW(io::get_int_attribute(in, "/", "beta"), core::InputError);
  fs::remove(path);
}

TEST(Readers, RefuseMissingUnreadableAndNonHdf5Files) {
  EXPECT_NE(input_error([] { io::File::open_serial(temp_path("does-not-exist.h5")); }).find("does not exist"),
            std::string::npos);
  const std::string text = temp_path("not-hdf5.h5");
  std::ofstream(text) << "just text";
  EXPECT_NE(input_error([&] { io::File::open_serial(text); }).find("not an HDF5 file"), std::string::npos);
  fs::remove(text);

  const std::string good = write_small_file("truncate.h5");
  fs::resize_file(good, fs::file_size(good) / 2);
  const std::string msg = input_error([&] {
    const io::File f = io::File::open_serial(good);
    io::read_all<double>(f, "x", 3);
  });
  EXPECT_NE(msg.find(good), std::string::npos) << msg;
  fs::remove(good);
}

TEST(Readers, RefuseAWrongShapeRankOrTypeNamingFileAndDataset) {
  const std::string path = write_small_file("shape.h5");
  const io::File in = io::File::open_serial(path);
  const std::string cols = input_error([&] { io::read_all<double>(in, "x", 5); });
  EXPECT_NE(cols.find("shape (4, 3), expected (N, 5)"), std::string::npos) << cols;
  EXPECT_NE(cols.find("dataset 'x'"), std::string::npos) << cols;
  EXPECT_NE(cols.find(path), std::string::npos) << cols;
  EXPECT_NE(input_error([&] { io::read_all<double>(in, "x", 0); }).find("expected (N,)"), std::string::npos);
  EXPECT_NE(input_error([&] { io::read_all<std::int64_t>(in, "x", 3); }).find("holds float64"), std::string::npos);
  EXPECT_NE(input_error([&] { io::read_all<float>(in, "labels", 0); }).find("holds int32"), std::string::npos);
  EXPECT_NE(input_error([&] { io::read_all<double>(in, "nope", 3); }).find("dataset is missing"), std::string::npos);
  std::vector<double> out;
  EXPECT_THROW(io::read_rows(in, "x", par::Block{3, 2}, 3, out), core::InputError);
  fs::remove(path);
}

TEST(Readers, ConvertWithinAFloatOrIntegerClass) {
  const std::string path = write_small_file("convert.h5");
  const io::File in = io::File::open_serial(path);
  EXPECT_EQ(io::read_all<float>(in, "x", 3)[7], 7.0f);
  EXPECT_EQ(io::read_all<std::int64_t>(in, "labels", 0)[3], 4);
  EXPECT_EQ(io::dataset_shape(in, "x").text(), "(4, 3)");
  fs::remove(path);
}
