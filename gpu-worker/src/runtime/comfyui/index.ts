export { ComfyUiRuntime, classifyExecutionError, pickVideoOutput, summarisePromptRejection } from './comfyui-runtime.ts';
export type { ComfyUiRuntimeOptions, ComfyUiTimeouts } from './comfyui-runtime.ts';
export { ComfySocket, websocketUrl } from './comfyui-socket.ts';
export type { ComfySocketOptions, ComfyWsMessage } from './comfyui-socket.ts';
export { encodePngRgb } from './png-encode.ts';
export {
  ComfyGraphSchema,
  ComfyNodeSchema,
  DEFAULT_NEGATIVE_PROMPT,
  DEFAULT_WORKFLOW_DIR,
  WORKFLOW_TEMPLATE_FILES,
  WorkflowTemplateError,
  checkRequest,
  describeTemplate,
  fillWorkflow,
  findNode,
  isLink,
  loadWorkflowTemplate,
  nodeRole,
  validateGraph,
} from './workflow-template.ts';
export type {
  ComfyGraph,
  ComfyModelFiles,
  ComfyNode,
  FillOverrides,
  TemplateShape,
  WorkflowTemplateName,
} from './workflow-template.ts';
