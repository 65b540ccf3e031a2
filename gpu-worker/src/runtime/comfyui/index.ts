export { ComfyUiRuntime, classifyExecutionError, classifyPromptRejection, pickVideoOutput, summarisePromptRejection } from './comfyui-runtime.ts';
export type { ComfyUiRuntimeOptions, ComfyUiTimeouts } from './comfyui-runtime.ts';
export { ComfySocket, websocketUrl } from './comfyui-socket.ts';
export type { ComfySocketOptions, ComfyWsMessage } from './comfyui-socket.ts';
export { encodePngRgb } from './png-encode.ts';
export { A14B_MAX_PIXELS, TI2V_5B_SIZES, comfyTemplateCapabilities } from './template-capabilities.ts';
export {
  ComfyGraphSchema,
  ComfyNodeSchema,
  DEFAULT_NEGATIVE_PROMPT,
  DEFAULT_WORKFLOW_DIR,
  WORKFLOW_TEMPLATE_FILES,
  WorkflowTemplateError,
  checkRequest,
  defaultDraftSteps,
  describeTemplate,
  fillWorkflow,
  findNode,
  isLink,
  loadWorkflowTemplate,
  nodeRole,
  templateSteps,
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
