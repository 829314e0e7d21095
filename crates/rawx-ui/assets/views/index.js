// Every view module, in navigation order. A new resource's screens are a new module here
// (and, if it adds a first URL segment, an entry in `CLIENT_ROUTES` in src/lib.rs).
import dashboard from './dashboard.js';
import jobs from './jobs.js';
import schedules from './schedules.js';
import templates from './templates.js';
import credentials from './credentials.js';
import projects from './projects.js';
import inventories from './inventories.js';
import hosts from './hosts.js';
import groups from './groups.js';
import adhoc from './adhoc.js';
import organizations from './organizations.js';
import teams from './teams.js';
import users from './users.js';
import credential_types from './credential_types.js';
import instance_groups from './instance_groups.js';
import instances from './instances.js';
import execution_environments from './execution_environments.js';
import settings from './settings.js';

export const VIEWS = [
  dashboard, jobs, schedules, templates, credentials, projects, inventories, hosts, groups, adhoc,
  organizations, teams, users, credential_types, instance_groups, instances, execution_environments, settings,
];
