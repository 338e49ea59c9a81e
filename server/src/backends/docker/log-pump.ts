// Moved to `backends/common/log-budget.ts`, shared by the Docker and sandbox backends.
export { LogBudget } from '../common/log-budget';
