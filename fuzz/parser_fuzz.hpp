// The contract every model-file parser fuzzer checks (fuzz/*_fuzzer.cpp): on any input the parser
// either throws tenzip::Error(corrupt_input) with a message that starts with `prefix`, or returns
// a layout that check_layout accepts. Anything else (a crash, a sanitizer report, another
// exception or error code, a layout check_layout refuses) is a finding. Each fuzzer then checks
// what is particular to its format on the layout this returns.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "formats/layout.hpp"

namespace tenzip::fuzz {

[[noreturn]] inline void finding(std::string_view target, const char* what, const std::string& detail) {
  std::fprintf(stderr, "%.*s finding: %s: %s\n", static_cast<int>(target.size()), target.data(), what, detail.c_str());
  std::abort();
}

// nullopt when the parser rejected the input properly; the checked layout when it accepted it.
template <class Parse>
std::optional<formats::FileLayout> parse_checked(std::string_view target, std::string_view prefix,
                                                 std::span<const uint8_t> in, Parse parse) {
  formats::FileLayout l;
  try {
    l = parse(in);
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (e.code() != Errc::corrupt_input) finding(target, "error code", std::string(errc_name(e.code())) + ": " + msg);
    if (msg.rfind(prefix, 0) != 0 || msg.size() <= prefix.size()) finding(target, "error message", msg);
    return std::nullopt;
  } catch (const std::exception& e) {
    finding(target, "exception other than tenzip::Error", e.what());
  }
  try {
    formats::check_layout(l, in.size());
  } catch (const Error& e) {
    finding(target, "check_layout refuses the layout", e.what());
  }
  return l;
}

}  // namespace tenzip::fuzz
