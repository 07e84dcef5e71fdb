#include "qvae/io/dataset.hpp"

#include <H5FDmpi.h>

#include <numeric>

namespace qvae::io {

std::int64_t DatasetShape::row_size() const {
  return std::accumulate(dims.begin() + (dims.empty() ? 0 : 1), dims.end(), std::int64_t{1},
                         std::multiplies<std::int64_t>());
}

std::string DatasetShape::text() const {
  std::string out = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + (dims.size() == 1 ? ",)" : ")");
}

namespace {

Handle open_dataset(const File& file, const std::string& name) {
  if (!file.has(name))
    throw core::InputError(
        core::describe("dataset is missing", where_text(file.path(), name), "is this the right file?"));
  return check_id(H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2",
                  Where{where_text(file.path(), name), core::ExitCode::bad_input});
}

DatasetShape shape_of(const Handle& dataset, const Where& where) {
  Handle space = check_id(H5Dget_space(dataset.get()), "H5Dget_space", where);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) check(rank, "H5Sget_simple_extent_ndims", where);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "H5Sget_simple_extent_dims", where);
  DatasetShape shape;
  for (hsize_t d : dims) shape.dims.push_back(static_cast<std::int64_t>(d));
  return shape;
}

/// Transfer property list: collective for parallel files.
Handle transfer_plist(const File& file, const Where& where) {
  Handle dxpl = check_id(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate(DATASET_XFER)", where);
  if (file.is_parallel()) check(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio", where);
  return dxpl;
}

std::string no_collective_causes(uint32_t cause) {
  struct Named {
    uint32_t bit;
    const char* text;
  };
  static const Named names[] = {
      {H5D_MPIO_SET_INDEPENDENT, "independent I/O was requested"},
      {H5D_MPIO_DATATYPE_CONVERSION, "datatype conversion"},
      {H5D_MPIO_DATA_TRANSFORMS, "data transforms"},
      {H5D_MPIO_MPI_OPT_TYPES_ENV_VAR_DISABLED, "MPI derived types disabled"},
      {H5D_MPIO_NOT_SIMPLE_OR_SCALAR_DATASPACES, "non-simple dataspace"},
      {H5D_MPIO_NOT_CONTIGUOUS_OR_CHUNKED_DATASET, "layout neither contiguous nor chunked"},
      {H5D_MPIO_PARALLEL_FILTERED_WRITES_DISABLED, "parallel filtered writes disabled"},
      {H5D_MPIO_ERROR_WHILE_CHECKING_COLLECTIVE_POSSIBLE, "error while checking"},
  };
  std::string out;
  for (const auto& n : names)
    if (cause & n.bit) out += (out.empty() ? "" : "; ") + std::string(n.text);
  return out.empty() ? "unknown cause " + std::to_string(cause) : out;
}

IoReport report_of(const File& file, const Handle& dxpl, const Where& where) {
  IoReport report;
  if (!file.is_parallel()) {
    report.cause = "serial file";
    return report;
  }
  uint32_t local_cause = 0, global_cause = 0;
  check(H5Pget_mpio_no_collective_cause(dxpl.get(), &local_cause, &global_cause), "H5Pget_mpio_no_collective_cause",
        where);
  report.collective = global_cause == H5D_MPIO_COLLECTIVE;
  if (!report.collective) report.cause = no_collective_causes(global_cause);
  return report;
}

/// Selects rows [offset, offset+count) of a (rows, row_size...) space, or nothing.
void select_rows(hid_t file_space, hid_t memory_space, const DatasetShape& shape, std::int64_t offset,
                 std::int64_t count, const Where& where) {
  if (count == 0) {
    check(H5Sselect_none(file_space), "H5Sselect_none", where);
    check(H5Sselect_none(memory_space), "H5Sselect_none", where);
    return;
  }
  std::vector<hsize_t> start(shape.dims.size(), 0), extent(shape.dims.begin(), shape.dims.end());
  start[0] = static_cast<hsize_t>(offset);
  extent[0] = static_cast<hsize_t>(count);
  check(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr),
        "H5Sselect_hyperslab", where);
}

Handle memory_space_for(std::int64_t rows, const DatasetShape& shape, const Where& where) {
  std::vector<hsize_t> dims(shape.dims.begin(), shape.dims.end());
  dims[0] = static_cast<hsize_t>(std::max<std::int64_t>(rows, 1));  // a zero-size space is not allowed here
  return check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple", where);
}

template <class T>
bool same_type_class(hid_t file_type) {
  const H5T_class_t cls = H5Tget_class(file_type);
  if (std::is_floating_point<T>::value) return cls == H5T_FLOAT;
  if (cls != H5T_INTEGER) return false;
  // Sign must match; an unsigned source into a signed target of larger size is also fine.
  const bool file_signed = H5Tget_sign(file_type) == H5T_SGN_2;
  return file_signed == std::is_signed<T>::value ||
         (!file_signed && std::is_signed<T>::value && H5Tget_size(file_type) < sizeof(T));
}

std::string describe_type(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t bits = 8 * H5Tget_size(type);
  switch (cls) {
    case H5T_FLOAT:
      return "float" + std::to_string(bits);
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_STRING:
      return "string";
    default:
      return "HDF5 type class " + std::to_string(static_cast<int>(cls));
  }
}

/// A dataset may declare more rows than it stores (HDF5 then returns fill
/// values): refuse a read that would allocate far more than the file holds,
/// so a size in a small or truncated file cannot demand gigabytes.  Deflate
/// expands at most ~1032:1; the slack lets small unwritten datasets read as zeros.
void refuse_unstored(const Handle& dataset, hid_t file_type, std::int64_t elements, const Where& where) {
  constexpr double kMaxExpansion = 1100, kSlackBytes = 1 << 20;
  const double requested = static_cast<double>(elements) * static_cast<double>(H5Tget_size(file_type));
  const double stored = static_cast<double>(H5Dget_storage_size(dataset.get()));
  if (requested > stored * kMaxExpansion + kSlackBytes)
    throw core::InputError(core::describe("dataset declares " + std::to_string(elements) + " values but stores only " +
                                              std::to_string(static_cast<std::uint64_t>(stored)) + " bytes",
                                          where.text, "the file is truncated or was never completely written"));
}

}  // namespace

DatasetShape dataset_shape(const File& file, const std::string& name) {
  Handle dataset = open_dataset(file, name);
  return shape_of(dataset, Where{where_text(file.path(), name), core::ExitCode::bad_input});
}

std::string stored_type(const File& file, const std::string& name) {
  Handle dataset = open_dataset(file, name);
  Handle type = check_id(H5Dget_type(dataset.get()), "H5Dget_type",
                         Where{where_text(file.path(), name), core::ExitCode::bad_input});
  return describe_type(type.get());
}

template <class T>
RowWriter<T>::RowWriter(File& file, const std::string& name, std::int64_t total_rows, std::int64_t cols,
                        const WriteOptions& options)
    : file_(&file), name_(name), total_rows_(total_rows), cols_(cols) {
  const Where where{where_text(file.path(), name), core::ExitCode::runtime};
  if (!file.writable()) throw std::logic_error("qvae::io::RowWriter: file opened read-only: " + where.text);
  if (total_rows < 0 || cols < 0) throw std::invalid_argument("qvae::io::RowWriter: negative size, " + where.text);
  if (const par::Communicator* comm = file.comm()) {
    // HDF5 requires identical creation arguments on every rank.
    if (comm->max(total_rows) != comm->min(total_rows) || comm->max(cols) != comm->min(cols))
      throw std::logic_error("qvae::io::RowWriter: ranks disagree on the shape, " + where.text);
  }
  std::vector<hsize_t> dims{static_cast<hsize_t>(total_rows)};
  if (cols > 0) dims.push_back(static_cast<hsize_t>(cols));
  Handle file_space =
      check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple", where);
  Handle dcpl = check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(DATASET_CREATE)", where);
  if (options.chunk_rows > 0 && total_rows > 0) {
    std::vector<hsize_t> chunk(dims);
    chunk[0] = static_cast<hsize_t>(std::min(options.chunk_rows, total_rows));
    check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk", where);
    if (options.gzip_level > 0)
      check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options.gzip_level)), "H5Pset_deflate", where);
  } else if (options.gzip_level > 0) {
    throw std::invalid_argument("qvae::io::RowWriter: gzip needs chunk_rows > 0, " + where.text);
  }
  // Parallel writes allocate space up front (required for MPI-IO) and need no fill.
  check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time", where);
  dataset_ = check_id(
      H5Dcreate2(file.id(), name.c_str(), native_type<T>(), file_space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      "H5Dcreate2", where);
}

template <class T>
IoReport RowWriter<T>::write(const par::Block& rows, const T* data) {
  const Where where{where_text(file_->path(), name_), core::ExitCode::runtime};
  if (rows.offset < 0 || rows.count < 0 || rows.end() > total_rows_)
    throw std::invalid_argument("qvae::io::RowWriter::write: rows outside the dataset, " + where.text);
  DatasetShape shape;
  shape.dims = {total_rows_};
  if (cols_ > 0) shape.dims.push_back(cols_);
  Handle file_space = check_id(H5Dget_space(dataset_.get()), "H5Dget_space", where);
  Handle memory_space = memory_space_for(rows.count, shape, where);
  select_rows(file_space.get(), memory_space.get(), shape, rows.offset, rows.count, where);
  Handle dxpl = transfer_plist(*file_, where);
  const T dummy{};  // a valid pointer for ranks that write nothing
  check(H5Dwrite(dataset_.get(), native_type<T>(), memory_space.get(), file_space.get(), dxpl.get(),
                 rows.count > 0 ? data : &dummy),
        "H5Dwrite", where);
  return report_of(*file_, dxpl, where);
}

template <class T>
IoReport write_rows(File& file, const std::string& name, const T* data, std::int64_t local_rows, std::int64_t cols,
                    const WriteOptions& options) {
  if (local_rows < 0) throw std::invalid_argument("qvae::io::write_rows: negative row count");
  par::Block block{0, local_rows};
  std::int64_t total = local_rows;
  if (const par::Communicator* comm = file.comm()) {
    block = par::block_from_count(local_rows, *comm);
    total = comm->sum(local_rows);
  }
  RowWriter<T> writer(file, name, total, cols, options);
  return writer.write(block, data);
}

namespace {

/// A dataset of rows opened for reading: rank 1 (expected_cols 0) or
/// (N, expected_cols), of a type class T can hold; InputError otherwise.
struct OpenedRows {
  Handle dataset;
  DatasetShape shape;
  Handle file_type;
};

template <class T>
OpenedRows open_rows(const File& file, const std::string& name, std::int64_t expected_cols, const Where& where) {
  Handle dataset = open_dataset(file, name);
  const DatasetShape shape = shape_of(dataset, where);
  const std::size_t expected_rank = expected_cols > 0 ? 2 : 1;
  if (shape.dims.size() != expected_rank || (expected_cols > 0 && shape.dims[1] != expected_cols))
    throw core::InputError(
        core::describe("dataset has shape " + shape.text() + ", expected " +
                           (expected_cols > 0 ? "(N, " + std::to_string(expected_cols) + ")" : std::string("(N,)")),
                       where.text));
  Handle file_type = check_id(H5Dget_type(dataset.get()), "H5Dget_type", where);
  if (!same_type_class<T>(file_type.get()))
    throw core::InputError(core::describe(
        "dataset holds " + describe_type(file_type.get()) + ", expected " + type_name<T>() + "-compatible values",
        where.text));
  return {std::move(dataset), shape, std::move(file_type)};
}

}  // namespace

template <class T>
IoReport read_rows(const File& file, const std::string& name, const par::Block& block, std::int64_t expected_cols,
                   std::vector<T>& out) {
  const Where where{where_text(file.path(), name), core::ExitCode::bad_input};
  const OpenedRows opened = open_rows<T>(file, name, expected_cols, where);
  const Handle& dataset = opened.dataset;
  const DatasetShape& shape = opened.shape;
  const Handle& file_type = opened.file_type;
  if (block.offset < 0 || block.count < 0 || block.end() > shape.rows())
    throw core::InputError(core::describe("rows [" + std::to_string(block.offset) + ", " + std::to_string(block.end()) +
                                              ") requested but the dataset has " + std::to_string(shape.rows()),
                                          where.text));

  refuse_unstored(dataset, file_type.get(), block.count * shape.row_size(), where);
  out.resize(static_cast<std::size_t>(block.count * shape.row_size()));
  Handle file_space = check_id(H5Dget_space(dataset.get()), "H5Dget_space", where);
  Handle memory_space = memory_space_for(block.count, shape, where);
  select_rows(file_space.get(), memory_space.get(), shape, block.offset, block.count, where);
  Handle dxpl = transfer_plist(file, where);
  T dummy{};  // a valid pointer for ranks that read nothing
  check(H5Dread(dataset.get(), native_type<T>(), memory_space.get(), file_space.get(), dxpl.get(),
                out.empty() ? &dummy : out.data()),
        "H5Dread", where);
  return report_of(file, dxpl, where);
}

template <class T>
IoReport read_row_runs(const File& file, const std::string& name, const std::vector<par::Block>& runs,
                       std::int64_t expected_cols, std::vector<T>& out) {
  const Where where{where_text(file.path(), name), core::ExitCode::bad_input};
  const OpenedRows opened = open_rows<T>(file, name, expected_cols, where);
  const Handle& dataset = opened.dataset;
  const DatasetShape& shape = opened.shape;
  const Handle& file_type = opened.file_type;
  std::int64_t total = 0, previous_end = 0;
  for (const par::Block& run : runs) {
    if (run.offset < previous_end || run.count <= 0 || run.end() > shape.rows())
      throw std::invalid_argument(
          "qvae::io::read_row_runs: runs must be sorted, disjoint, non-empty and inside the "
          "dataset, " +
          where.text);
    previous_end = run.end();
    total += run.count;
  }
  refuse_unstored(dataset, file_type.get(), total * shape.row_size(), where);
  out.resize(static_cast<std::size_t>(total * shape.row_size()));
  Handle file_space = check_id(H5Dget_space(dataset.get()), "H5Dget_space", where);
  Handle memory_space = memory_space_for(total, shape, where);
  if (runs.empty()) {
    check(H5Sselect_none(file_space.get()), "H5Sselect_none", where);
    check(H5Sselect_none(memory_space.get()), "H5Sselect_none", where);
  }
  std::vector<hsize_t> start(shape.dims.size(), 0), extent(shape.dims.begin(), shape.dims.end());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    start[0] = static_cast<hsize_t>(runs[i].offset);
    extent[0] = static_cast<hsize_t>(runs[i].count);
    check(H5Sselect_hyperslab(file_space.get(), i == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, start.data(), nullptr,
                              extent.data(), nullptr),
          "H5Sselect_hyperslab", where);
  }
  Handle dxpl = transfer_plist(file, where);
  T dummy{};  // a valid pointer when nothing is read
  check(H5Dread(dataset.get(), native_type<T>(), memory_space.get(), file_space.get(), dxpl.get(),
                out.empty() ? &dummy : out.data()),
        "H5Dread", where);
  return report_of(file, dxpl, where);
}

template <class T>
std::vector<T> read_all(const File& file, const std::string& name, std::int64_t expected_cols) {
  std::vector<T> out;
  read_rows(file, name, par::Block{0, dataset_shape(file, name).rows()}, expected_cols, out);
  return out;
}

#define QVAE_IO_INSTANTIATE(T)                                                                                       \
  template class RowWriter<T>;                                                                                       \
  template IoReport write_rows<T>(File&, const std::string&, const T*, std::int64_t, std::int64_t,                   \
                                  const WriteOptions&);                                                              \
  template IoReport read_rows<T>(const File&, const std::string&, const par::Block&, std::int64_t, std::vector<T>&); \
  template IoReport read_row_runs<T>(const File&, const std::string&, const std::vector<par::Block>&, std::int64_t,  \
                                     std::vector<T>&);                                                               \
  template std::vector<T> read_all<T>(const File&, const std::string&, std::int64_t);
QVAE_IO_INSTANTIATE(float)
QVAE_IO_INSTANTIATE(double)
QVAE_IO_INSTANTIATE(std::int32_t)
QVAE_IO_INSTANTIATE(std::int64_t)
QVAE_IO_INSTANTIATE(std::uint8_t)
#undef QVAE_IO_INSTANTIATE

void create_group(File& file, const std::string& name) {
  check_id(H5Gcreate2(file.id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "H5Gcreate2",
           Where{where_text(file.path(), name), core::ExitCode::runtime});
}

}  // namespace qvae::io
