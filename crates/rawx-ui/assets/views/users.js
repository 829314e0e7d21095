// Users: list, detail, create, edit and delete from the API's OPTIONS metadata.
import { resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'users',
  title: 'Users',
  singular: 'User',
  columns: [{ key: 'username', label: 'Username' }, { key: 'first_name', label: 'First name' }, { key: 'last_name', label: 'Last name' }, { key: 'is_superuser', label: 'Superuser' }],
  order: 'username',
  form: ['username', 'password', 'first_name', 'last_name', 'email', 'is_superuser', 'is_system_auditor'],
};

export default { nav: { href: '/users', label: 'Users', section: 'Access' }, routes: resourceRoutes(cfg) };
