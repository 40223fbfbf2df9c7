/**
 * A branch name a client may give (a pull request's base): no leading `-` (never an option),
 * no `..`, no revision or refspec syntax (`:`, `^`, `~`, `@{`, spaces), no trailing `/` or `.lock`.
 */
export const GIT_BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*\/$)(?!.*\.lock$)[A-Za-z0-9._/-]{1,200}$/;
export const GIT_BRANCH_MESSAGE = 'must be a branch name: letters, digits, ".", "_", "-" and "/", not starting with "-"';
