/**
 * Moved to constructs/engine/engine-task.ts. These re-exports keep cli/commands/run.ts building until
 * its import points there; then this file and constructs/runner/ go.
 */
export { ENGINE_CONTAINER, WORKDIR_MOUNT } from "../engine/engine-task";
