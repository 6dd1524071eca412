#include "http/message.h"

namespace presence::http {

std::optional<std::string> Request::Header(std::string_view name) const {
  auto it = headers.find(boost::beast::string_view(name.data(), name.size()));
  if (it == headers.end()) return std::nullopt;
  return std::string(it->value().data(), it->value().size());
}

const std::string& Request::Param(std::string_view name) const {
  static const std::string kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

void Response::SetHeader(std::string_view name, std::string_view value) {
  headers.set(boost::beast::string_view(name.data(), name.size()),
              boost::beast::string_view(value.data(), value.size()));
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response JsonResponse(unsigned status, const nlohmann::json& body) {
  Response response;
  response.status = status;
  response.SetHeader("Content-Type", "application/json");
  response.body = DumpJson(body);
  response.body += '\n';
  if (status >= 400 && body.is_object()) {
    auto error = body.find("error");
    if (error != body.end() && error->is_object()) {
      auto code = error->find("code");
      if (code != error->end() && code->is_string()) response.error_code = code->get<std::string>();
    }
  }
  return response;
}

nlohmann::json ErrorBody(std::string_view code, std::string_view message) {
  return {{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}};
}

Response ErrorResponse(unsigned status, std::string_view code, std::string_view message) {
  return JsonResponse(status, ErrorBody(code, message));
}

}  // namespace presence::http
