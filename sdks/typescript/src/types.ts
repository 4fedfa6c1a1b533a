// The API's types, named: all generated from openapi.json (./schema.ts).

import type { components } from "./schema.js";

type Schemas = components["schemas"];
export type TaskView = Schemas["TaskView"];
export type TaskStatus = Schemas["TaskStatus"];
export type TaskPage = Schemas["TaskPage"];
export type TaskRequest = Schemas["TaskRequest"];
export type ExecuteRequest = Schemas["ExecuteRequest"];
export type FollowUpRequest = Schemas["FollowUpRequest"];
export type Delivery = Schemas["Delivery"];
export type Artifact = Schemas["Artifact"];
export type FileListing = Schemas["FileListing"];
export type DeliveryList = Schemas["DeliveryList"];
export type Problem = Schemas["Problem"];
export type { components, paths, operations } from "./schema.js";
