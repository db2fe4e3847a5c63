#include "signet/policy/exempt_images.h"

namespace signet::policy {

Status ExemptImages::CheckEntry(std::string_view entry) {
  const auto invalid = [entry](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, "\"" + std::string(entry) + "\": " + why);
  };
  if (entry.empty()) return Error(ErrorCode::kInvalidArgument, "an entry is empty");
  if (entry == "*") {
    return invalid(
        "a bare \"*\" would exempt every image; turn the mutators off instead "
        "(mutation.enabled: false in the chart)");
  }
  const auto star = entry.find('*');
  if (star != std::string_view::npos && star != entry.size() - 1) {
    return invalid(
        "\"*\" is allowed only as the last character (a prefix entry); no image "
        "reference contains one");
  }
  for (const char c : entry) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      return invalid("contains whitespace or a control character, which no image reference holds");
    }
  }
  return OkStatus();
}

Result<ExemptImages> ExemptImages::Create(std::vector<std::string> entries) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (auto status = CheckEntry(entries[i]); !status.ok()) {
      return status.error().WithContext("[" + std::to_string(i) + "]");
    }
  }
  return ExemptImages(std::move(entries));
}

const std::string* ExemptImages::Match(std::string_view image) const {
  for (const std::string& entry : entries_) {
    if (!entry.empty() && entry.back() == '*') {
      const std::string_view prefix(entry.data(), entry.size() - 1);
      if (image.substr(0, prefix.size()) == prefix) return &entry;
    } else if (image == entry) {
      return &entry;
    }
  }
  return nullptr;
}

}  // namespace signet::policy
