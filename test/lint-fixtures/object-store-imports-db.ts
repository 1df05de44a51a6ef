// object-store sits on core only: it takes `{ workspaceId }` and may not import db's WorkspaceScope.
import { type WorkspaceScope } from '@praxa/db';
export type Probe = WorkspaceScope;
