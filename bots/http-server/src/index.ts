export { createHttpApp, type HttpApp, type HttpAppDeps, type HttpAppOptions } from './http-app.ts';
export { httpState, type HttpState } from './error-handler.ts';
export { HttpError } from './http-error.ts';
export { readRawBody, DEFAULT_BODY_LIMIT, DEFAULT_UPLOAD_LIMIT } from './raw-body.ts';
export { readinessChecks, type Readiness, type ReadinessCheck, type ReadinessChecksOptions } from './readiness.ts';
export { listen, type ListeningServer, type ListenOptions } from './listen.ts';
export { startHttpServer, type RunningHttpServer, type StartHttpServerOptions } from './start-http-server.ts';
export { mediaRouter, type MediaRouteOptions } from './media-route.ts';
export { parseByteRange, sendBlob, type SendBlobOptions } from './send-blob.ts';
