#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <thread>

#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/progress.hpp"
#include "qvae/core/stopwatch.hpp"

using namespace qvae::core;

TEST(Stopwatch, CountsUpFromItsStartAndFromARestart) {
  Stopwatch watch;
  const double first = watch.seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double later = watch.seconds();
  EXPECT_GE(first, 0.0);
  EXPECT_GE(later, 0.1);  // a sleep lasts at least as long as asked
  watch.restart();
  EXPECT_LT(watch.seconds(), later);
}

TEST(Progress, StatusShowsCountsPercentRateAndEta) {
  Progress p("simulate", 200, "showers", /*enabled=*/false);
  p.update(50);
  const std::string s = p.status();
  EXPECT_NE(s.find("simulate: 50/200 showers (25%)"), std::string::npos) << s;
  EXPECT_NE(s.find("showers/s"), std::string::npos) << s;
  EXPECT_NE(s.find("ETA"), std::string::npos) << s;
  p.update(10);  // progress never goes backwards
  EXPECT_NE(p.status().find("50/200"), std::string::npos);
}

TEST(Progress, DurationsAreFormattedAsClockTime) {
  EXPECT_EQ(format_duration(0), "00:00");
  EXPECT_EQ(format_duration(61), "01:01");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(std::nan("")), "--:--");
  EXPECT_EQ(parse_progress_mode("lines"), ProgressMode::lines);
  EXPECT_THROW(parse_progress_mode("sometimes"), UsageError);
}

TEST(JsonSummary, IsOneLineWithNullForNonFiniteNumbers) {
  std::ostringstream out;
  print_json_summary({{"a", 1}, {"b", std::numeric_limits<double>::quiet_NaN()}, {"s", "x\ny"}}, out);
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_EQ(nlohmann::json::parse(text)["b"], nullptr);
  std::ostringstream quiet;
  print_json_summary({{"a", 1}}, quiet, /*is_root=*/false);
  EXPECT_TRUE(quiet.str().empty());
}

TEST(Log, LevelsParseAndFilter) {
  EXPECT_EQ(log::parse_level("warn"), log::Level::warn);
  EXPECT_THROW(log::parse_level("verbose"), UsageError);
  const log::Level saved = log::level();
  log::set_level(log::Level::warn);
  EXPECT_FALSE(log::enabled(log::Level::info));
  EXPECT_TRUE(log::enabled(log::Level::error));
  log::set_level(saved);
}
