#include "signet/oci/www_authenticate.h"

#include <cctype>

namespace signet::oci {
namespace {

bool IsTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken68Char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~' || c == '+' || c == '/';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A cursor over the header value.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  std::size_t pos() const { return pos_; }
  void Seek(std::size_t pos) { pos_ = pos; }
  void Advance() { ++pos_; }

  void SkipSpaces() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  void SkipSpacesAndCommas() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == ',')) ++pos_;
  }
  std::string_view Token() {
    std::size_t start = pos_;
    while (!AtEnd() && IsTokenChar(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  Error Fail(std::string_view why) const {
    return Error(ErrorCode::kParse, "WWW-Authenticate \"" + std::string(text_) + "\": " +
                                        std::string(why) + " at position " + std::to_string(pos_));
  }
  // Reads a quoted-string starting at the opening quote.
  Result<std::string> Quoted() {
    ++pos_;  // opening quote
    std::string out;
    while (!AtEnd()) {
      char c = text_[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (AtEnd()) break;
        c = text_[pos_++];
      }
      out.push_back(c);
    }
    return Fail("unterminated quoted string");
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// True when the scanner is at `name BWS "="` that is not a token68 ending in
// '=' (i.e. the '=' is followed by something other than '=', ',' or end).
bool AtAuthParam(Scanner& s) {
  std::size_t start = s.pos();
  bool is_param = false;
  if (!s.Token().empty()) {
    s.SkipSpaces();
    if (s.Peek() == '=') {
      s.Advance();
      s.SkipSpaces();
      is_param = !s.AtEnd() && s.Peek() != '=' && s.Peek() != ',';
    }
  }
  s.Seek(start);
  return is_param;
}

}  // namespace

std::string AuthChallenge::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

Result<std::vector<AuthChallenge>> ParseWwwAuthenticate(std::string_view header) {
  Scanner s(header);
  std::vector<AuthChallenge> challenges;
  s.SkipSpacesAndCommas();
  while (!s.AtEnd()) {
    std::string_view scheme = s.Token();
    if (scheme.empty()) return s.Fail("expected an auth scheme");
    AuthChallenge challenge;
    challenge.scheme = Lower(scheme);
    s.SkipSpaces();
    // token68 directly after the scheme.
    if (!s.AtEnd() && s.Peek() != ',' && !AtAuthParam(s)) {
      std::size_t start = s.pos();
      while (!s.AtEnd() && IsToken68Char(s.Peek())) s.Advance();
      while (!s.AtEnd() && s.Peek() == '=') s.Advance();
      if (s.pos() == start) return s.Fail("unexpected character");
      challenge.token68 = std::string(header.substr(start, s.pos() - start));
      s.SkipSpaces();
      if (!s.AtEnd() && s.Peek() != ',') return s.Fail("unexpected text after token68");
    }
    // auth-params, separated by commas, until the next scheme.
    while (true) {
      s.SkipSpacesAndCommas();
      if (s.AtEnd() || !AtAuthParam(s)) break;
      std::string name = Lower(s.Token());
      s.SkipSpaces();
      s.Advance();  // '='
      s.SkipSpaces();
      std::string value;
      if (s.Peek() == '"') {
        auto quoted = s.Quoted();
        if (!quoted.ok()) return quoted.error();
        value = std::move(quoted).value();
      } else {
        std::string_view token = s.Token();
        if (token.empty()) return s.Fail("expected a value for \"" + name + "\"");
        value = std::string(token);
      }
      if (challenge.params.count(name) != 0) return s.Fail("duplicate parameter \"" + name + "\"");
      challenge.params.emplace(std::move(name), std::move(value));
      s.SkipSpaces();
      if (!s.AtEnd() && s.Peek() != ',') return s.Fail("expected ',' between parameters");
    }
    challenges.push_back(std::move(challenge));
    s.SkipSpacesAndCommas();
  }
  if (challenges.empty()) return s.Fail("no challenge");
  return challenges;
}

}  // namespace signet::oci
