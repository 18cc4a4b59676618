#include "flightplan/engine/definition.hpp"

#include <cassert>
#include <type_traits>

namespace flightplan::engine {

bool ErrorFilter::matches(const WorkflowError& error) const {
  // An unset field matches anything; a set field must be equal. An empty filter catches every error.
  if (type && *type != error.type) return false;
  if (status && *status != error.status) return false;
  if (instance && *instance != error.instance) return false;
  if (title && *title != error.title) return false;
  if (detail && *detail != error.detail) return false;
  return true;
}

int TaskList::find(std::string_view name) const {
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i]->name == name) return static_cast<int>(i);
  }
  return -1;
}

namespace {

void index_lists(const TaskList& list, std::unordered_map<std::string, const TaskList*>& index);

void index_task(const Task& task, std::unordered_map<std::string, const TaskList*>& index) {
  if (task.compensate) index_lists(*task.compensate, index);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, DoTask>) index_lists(*body.tasks, index);
        if constexpr (std::is_same_v<T, ForkTask>) index_lists(*body.branches, index);
        if constexpr (std::is_same_v<T, ForTask>) index_lists(*body.do_, index);
        if constexpr (std::is_same_v<T, TryTask>) {
          index_lists(*body.try_, index);
          if (body.catch_.do_) index_lists(*body.catch_.do_, index);
        }
      },
      task.body);
}

void index_lists(const TaskList& list, std::unordered_map<std::string, const TaskList*>& index) {
  index.emplace(list.reference, &list);
  for (const auto& task : list.tasks) index_task(*task, index);
}

}  // namespace

void index_task_lists(Definition& definition) {
  definition.lists.clear();
  if (definition.do_) index_lists(*definition.do_, definition.lists);
  for (const auto& [name, function] : definition.functions) index_task(*function, definition.lists);
}

const TaskList& Definition::list(const std::string& reference) const {
  auto it = lists.find(reference);
  assert(it != lists.end());
  return *it->second;
}

}  // namespace flightplan::engine
