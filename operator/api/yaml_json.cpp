#include "api/yaml_json.h"

#include <optional>
#include <regex>

#include <yaml-cpp/yaml.h>
#include <yaml.h>

namespace ew::api {
namespace {

struct ParseError {
  std::string message;
};

// YAML 1.2 core schema resolution for plain scalars.
const std::regex kNull(R"(^(~|null|Null|NULL|)$)");
const std::regex kTrue(R"(^(true|True|TRUE)$)");
const std::regex kFalse(R"(^(false|False|FALSE)$)");
const std::regex kInt(R"(^[-+]?[0-9]+$)");
const std::regex kOct(R"(^0o[0-7]+$)");
const std::regex kHex(R"(^0x[0-9a-fA-F]+$)");
const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
const std::regex kSpecialFloat(R"(^([-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$)");

// Longer plain scalars are strings: no null, bool or sane number is this long,
// and libstdc++'s regex recursion grows with the input.
constexpr std::size_t kMaxTypedScalar = 64;

Json plainScalar(const std::string& s) {
  if (s.size() > kMaxTypedScalar) return s;
  if (std::regex_match(s, kNull)) return nullptr;
  if (std::regex_match(s, kTrue)) return true;
  if (std::regex_match(s, kFalse)) return false;
  try {
    if (std::regex_match(s, kInt)) {
      if (s[0] == '-') return std::stoll(s);
      return static_cast<std::int64_t>(std::stoull(s[0] == '+' ? s.substr(1) : s));
    }
    if (std::regex_match(s, kOct)) return static_cast<std::int64_t>(std::stoull(s.substr(2), nullptr, 8));
    if (std::regex_match(s, kHex)) return static_cast<std::int64_t>(std::stoull(s.substr(2), nullptr, 16));
    if (std::regex_match(s, kFloat)) return std::stod(s);
  } catch (const std::out_of_range&) {
    return s;  // too large for a 64-bit integer or a double: keep the text
  }
  if (std::regex_match(s, kSpecialFloat)) return s;  // JSON has no inf/nan; keep the text
  return s;
}

// Converts libyaml's document tree, with limits that keep hostile input
// bounded: nesting depth, and nodes produced (aliases can multiply a small
// input exponentially: "billion laughs").
class Converter {
 public:
  explicit Converter(yaml_document_t* doc) : doc_(doc) {}

  Json convert(yaml_node_t* node, int depth = 0) {
    if (!node) return nullptr;
    if (depth > kMaxDepth) throw ParseError{"nesting deeper than " + std::to_string(kMaxDepth) + " levels"};
    if (++nodes_ > kMaxNodes) throw ParseError{"more than " + std::to_string(kMaxNodes) + " nodes (alias expansion?)"};
    switch (node->type) {
      case YAML_SCALAR_NODE: {
        std::string text(reinterpret_cast<const char*>(node->data.scalar.value), node->data.scalar.length);
        if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) return plainScalar(text);
        return text;
      }
      case YAML_SEQUENCE_NODE: {
        Json out = Json::array();
        for (auto* item = node->data.sequence.items.start; item < node->data.sequence.items.top; ++item)
          out.push_back(convert(yaml_document_get_node(doc_, *item), depth + 1));
        return out;
      }
      case YAML_MAPPING_NODE: {
        Json out = Json::object();
        for (auto* pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; ++pair) {
          yaml_node_t* key = yaml_document_get_node(doc_, pair->key);
          if (!key || key->type != YAML_SCALAR_NODE)
            throw ParseError{"line " + std::to_string(node->start_mark.line + 1) + ": mapping keys must be scalars"};
          std::string k(reinterpret_cast<const char*>(key->data.scalar.value), key->data.scalar.length);
          if (out.contains(k))
            throw ParseError{"line " + std::to_string(key->start_mark.line + 1) + ", column " +
                             std::to_string(key->start_mark.column + 1) + ": duplicate key \"" + k + "\""};
          out[k] = convert(yaml_document_get_node(doc_, pair->value), depth + 1);
        }
        return out;
      }
      default:
        return nullptr;
    }
  }

 private:
  static constexpr int kMaxDepth = 128;
  static constexpr std::size_t kMaxNodes = 1'000'000;
  yaml_document_t* doc_;
  std::size_t nodes_ = 0;
};

bool needsQuotes(const std::string& s) {
  if (s.empty()) return true;
  if (!plainScalar(s).is_string()) return true;  // would read back as null/bool/number
  if (s.size() <= kMaxTypedScalar && std::regex_match(s, kSpecialFloat)) return true;
  static const std::string kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string::npos) return true;
  if (s.front() == ' ' || s.back() == ' ') return true;
  for (char c : s) {
    if (c == '\n' || c == '\t' || c == '\r' || static_cast<unsigned char>(c) < 0x20 ||
        static_cast<unsigned char>(c) >= 0x7f)
      return true;
  }
  return s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':';
}

void emit(YAML::Emitter& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      out << YAML::Null;
      break;
    case Json::value_t::boolean:
      out << (v.get<bool>() ? "true" : "false");
      break;
    case Json::value_t::number_integer:
      out << v.get<std::int64_t>();
      break;
    case Json::value_t::number_unsigned:
      out << v.get<std::uint64_t>();
      break;
    case Json::value_t::number_float:
      out << v.dump();
      break;
    case Json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (s.find('\n') != std::string::npos && s.find_first_of("\t\r") == std::string::npos && s.front() != ' ' &&
          s.find(" \n") == std::string::npos) {
        out << YAML::Literal << s;
      } else if (needsQuotes(s)) {
        out << YAML::DoubleQuoted << s;
      } else {
        out << s;
      }
      break;
    }
    case Json::value_t::array:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const auto& item : v) emit(out, item);
      out << YAML::EndSeq;
      break;
    case Json::value_t::object:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        break;
      }
      out << YAML::BeginMap;
      for (const auto& [k, item] : v.items()) {
        out << YAML::Key;
        if (needsQuotes(k)) out << YAML::DoubleQuoted;
        out << k << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    default:
      out << YAML::Null;  // binary/discarded: not produced by this project
  }
}

}  // namespace

Result<std::vector<Json>> parseDocuments(const std::string& text) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return Error{"out of memory"};
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::vector<Json> docs;
  std::optional<Error> error;
  while (!error) {
    yaml_document_t doc;
    if (!yaml_parser_load(&parser, &doc)) {
      const auto& mark = parser.problem_mark;
      error = Error{"line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) + ": " +
                    (parser.problem ? parser.problem : "invalid YAML") +
                    (parser.context ? std::string(" (") + parser.context + ")" : std::string())};
      break;
    }
    yaml_node_t* root = yaml_document_get_root_node(&doc);
    if (!root) {  // end of the stream
      yaml_document_delete(&doc);
      break;
    }
    try {
      Json value = Converter(&doc).convert(root);
      (void)value.dump();  // throws on text that is not UTF-8
      if (!value.is_null()) docs.push_back(std::move(value));
    } catch (const ParseError& e) {
      error = Error{e.message};
    } catch (const Json::type_error& e) {
      error = Error{std::string("the text is not valid UTF-8: ") + e.what()};
    }
    yaml_document_delete(&doc);
  }
  yaml_parser_delete(&parser);
  if (error) return *error;
  return docs;
}

std::string toYaml(const Json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  emit(out, value);
  std::string s = out.c_str();
  if (s.empty() || s.back() != '\n') s += '\n';
  return s;
}

}  // namespace ew::api
